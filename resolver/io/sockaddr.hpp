// SPDX-License-Identifier: MIT
#pragma once
#include <sys/socket.h>

#include <string>

#include "resolver/core/result.hpp"
#include "resolver/io/transport.hpp"

namespace resolver::io {

/// The address and port of a socket address (binary; an IPv4-mapped IPv6 address is IPv4).
Endpoint to_endpoint(const sockaddr* sa);
/// Parses "IP" + port into a sockaddr_storage (IPv4 or IPv6).
Result<sockaddr_storage> to_sockaddr(const std::string& ip, std::uint16_t port);
/// "127.0.0.1:53" or "[::1]:53".
std::string endpoint_text(const Endpoint& e);

} // namespace resolver::io
