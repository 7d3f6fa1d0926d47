// SPDX-License-Identifier: MIT
// Socket addresses for the io unit tests, built with inet_pton (not with the code under test)
// as the kernel hands them to a listener.
#pragma once
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>

#include <doctest/doctest.h>

namespace io_test {

/// `ip` (an IPv4 literal, else an IPv6 one: REQUIREd) and `port`.
inline sockaddr_storage socket_address(const std::string& ip, std::uint16_t port) {
    sockaddr_storage ss{};
    auto* in = reinterpret_cast<sockaddr_in*>(&ss);
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&ss);
    if (inet_pton(AF_INET, ip.c_str(), &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
        in->sin_port = htons(port);
    } else {
        REQUIRE(inet_pton(AF_INET6, ip.c_str(), &in6->sin6_addr) == 1);
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(port);
    }
    return ss;
}

inline const sockaddr* as_sockaddr(const sockaddr_storage& ss) {
    return reinterpret_cast<const sockaddr*>(&ss);
}

/// inet_ntop's spelling of the address in `ss`: what the listener used to format and the log
/// printed.
inline std::string ntop(const sockaddr_storage& ss) {
    const void* addr =
        ss.ss_family == AF_INET
            ? static_cast<const void*>(&reinterpret_cast<const sockaddr_in*>(&ss)->sin_addr)
            : &reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_addr;
    char buf[INET6_ADDRSTRLEN] = {};
    REQUIRE(inet_ntop(ss.ss_family, addr, buf, sizeof buf) != nullptr);
    return buf;
}

} // namespace io_test
