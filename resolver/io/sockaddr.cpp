// SPDX-License-Identifier: MIT
#include "resolver/io/sockaddr.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

namespace resolver::io {

Endpoint to_endpoint(const sockaddr* sa) {
    Endpoint e;
    if (sa == nullptr) {
        return e;
    }
    if (sa->sa_family == AF_INET) {
        const auto* in = reinterpret_cast<const sockaddr_in*>(sa);
        e.ip = net::IpAddr::from_bytes(
            {reinterpret_cast<const char*>(&in->sin_addr), sizeof in->sin_addr});
        e.port = ntohs(in->sin_port);
    } else if (sa->sa_family == AF_INET6) {
        const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
        const auto* raw = reinterpret_cast<const char*>(in6->sin6_addr.s6_addr);
        // An IPv4 client of a dual-stack socket is an IPv4 client (logged a.b.c.d, matched
        // against IPv4 networks), as when the text was formatted here.
        e.ip = IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) ? net::IpAddr::from_bytes({raw + 12, 4})
                                                     : net::IpAddr::from_bytes({raw, 16});
        e.port = ntohs(in6->sin6_port);
    }
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
    const std::string ip = e.ip_string();
    const bool v6 = ip.find(':') != std::string::npos;
    return (v6 ? "[" + ip + "]" : ip) + ":" + std::to_string(e.port);
}

} // namespace resolver::io
