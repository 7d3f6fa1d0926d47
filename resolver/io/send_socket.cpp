// SPDX-License-Identifier: MIT
#include "resolver/io/send_socket.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

namespace resolver::io {

Result<SendSocket> SendSocket::open(const sockaddr* bound, socklen_t length) {
    if (length > sizeof(sockaddr_storage)) {
        return fail(Errc::Internal, "address too long");
    }
    SendSocket s;
    s.fd_ = ::socket(bound->sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (!s) {
        return fail(Errc::Internal, std::string("socket: ") + std::strerror(errno));
    }
    const int one = 1;
    if (::setsockopt(s.fd_, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
        return fail(Errc::Internal, std::string("SO_REUSEPORT: ") + std::strerror(errno));
    }
    if (::bind(s.fd_, bound, length) != 0) {
        return fail(Errc::Internal, std::string("bind: ") + std::strerror(errno));
    }
    std::memcpy(&s.own_, bound, length);
    s.own_length_ = length;
    return s;
}

Status SendSocket::seal() {
    if (sealed_) {
        return ok();
    }
    if (::connect(fd_, reinterpret_cast<const sockaddr*>(&own_), own_length_) != 0) {
        return fail(Errc::Internal, std::string("connect: ") + std::strerror(errno));
    }
    sealed_ = true;
    return ok();
}

SendSocket::SendSocket(SendSocket&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), sealed_(std::exchange(other.sealed_, false)),
      own_(other.own_), own_length_(other.own_length_) {}

SendSocket& SendSocket::operator=(SendSocket&& other) noexcept {
    if (this != &other) {
        if (fd_ >= 0) {
            ::close(fd_);
        }
        fd_ = std::exchange(other.fd_, -1);
        sealed_ = std::exchange(other.sealed_, false);
        own_ = other.own_;
        own_length_ = other.own_length_;
    }
    return *this;
}

SendSocket::~SendSocket() {
    if (fd_ >= 0) {
        ::close(fd_);
    }
}

} // namespace resolver::io
