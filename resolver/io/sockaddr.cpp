// SPDX-License-Identifier: MIT
#include "resolver/io/sockaddr.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

namespace resolver::io {

Endpoint to_endpoint(const sockaddr* sa) {
    Endpoint e;
    char buf[INET6_ADDRSTRLEN] = {};
    if (sa == nullptr) {
        return e;
    }
    if (sa->sa_family == AF_INET) {
        const auto* in = reinterpret_cast<const sockaddr_in*>(sa);
        inet_ntop(AF_INET, &in->sin_addr, buf, sizeof buf);
        e.port = ntohs(in->sin_port);
    } else if (sa->sa_family == AF_INET6) {
        const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
        if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
            inet_ntop(AF_INET, &in6->sin6_addr.s6_addr[12], buf, sizeof buf);
        } else {
            inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof buf);
        }
        e.port = ntohs(in6->sin6_port);
    }
    e.ip = buf;
    return e;
}

Result<sockaddr_storage> to_sockaddr(const std::string& ip, std::uint16_t port) {
    sockaddr_storage ss{};
    auto* in = reinterpret_cast<sockaddr_in*>(&ss);
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&ss);
    if (inet_pton(AF_INET, ip.c_str(), &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
        in->sin_port = htons(port);
        return ss;
    }
    if (inet_pton(AF_INET6, ip.c_str(), &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(port);
        return ss;
    }
    return fail(Errc::ConfigInvalid, "'" + ip + "' is not an IP address");
}

std::string endpoint_text(const Endpoint& e) {
    const bool v6 = e.ip.find(':') != std::string::npos;
    return (v6 ? "[" + e.ip + "]" : e.ip) + ":" + std::to_string(e.port);
}

} // namespace resolver::io
