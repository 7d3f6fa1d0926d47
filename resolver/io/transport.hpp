// SPDX-License-Identifier: MIT
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "resolver/net/transport.hpp"

namespace resolver::io {

/// An IP address in presentation form and a port.
struct Endpoint {
    std::string ip;
    std::uint16_t port = 0;
};

/// Every transport detail that can decide a Gateway location or appear in the log.
/// Filled by the listener; past decode the pipeline sees the transport only as this data.
struct TransportInfo {
    net::Transport protocol = net::Transport::Udp;
    Endpoint src;                   // the client
    Endpoint dst;                   // the local address and port the query reached
    std::string listener;           // the listener URL, as printed in the ready file
    std::string sni;                // TLS server name (DoT and DoH), "" when absent
    std::string http_host;          // DoH :authority or Host header, without port
    std::string http_path;          // DoH request path without the query string
    std::string http_location;      // DoH `cf-dns-location` header
    std::string http_authorization; // DoH `CF-Authorization` header (a user token)
    /// Largest response the transport can carry: the client's EDNS size on UDP is applied
    /// later by the pipeline; streams carry 65535.
    bool datagram = true;
};

/// What the pipeline hands back to the listener for one query.
struct Reply {
    std::vector<std::uint8_t> wire; // empty when `dropped`
    bool dropped = false;           // send nothing (still logged by the pipeline)
    bool upstream_timeout = false;  // DoH maps this to HTTP 504 (RFC 8484 leaves it open)
    std::uint32_t min_ttl = 0;      // smallest TTL in the answer, for DoH cache-control
};

/// Called exactly once per query, on the loop thread that received it; possibly before
/// QueryHandler::handle returns. Must be safe to call after the connection went away.
using ReplyFn = std::function<void(Reply)>;

/// The pipeline as listeners see it.
class QueryHandler {
public:
    virtual ~QueryHandler() = default;
    /// Takes one DNS message (framing already removed) and answers through `reply`.
    virtual void handle(std::vector<std::uint8_t> wire, TransportInfo info, ReplyFn reply) = 0;
};

} // namespace resolver::io
