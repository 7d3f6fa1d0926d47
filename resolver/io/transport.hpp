// SPDX-License-Identifier: MIT
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "resolver/net/transport.hpp"

namespace resolver::io {

// The transport facts moved to net/ (stages read them without knowing io/); these names
// stay so that listener code reads as before.
using Endpoint = net::Endpoint;
using TransportInfo = net::TransportInfo;

/// What the pipeline hands back to the listener for one query.
struct Reply {
    std::vector<std::uint8_t> wire; // empty when `dropped`
    bool dropped = false;           // send nothing (still logged by the pipeline)
    bool upstream_timeout = false;  // DoH maps this to HTTP 504 (RFC 8484 leaves it open)
    std::uint32_t min_ttl = 0;      // freshness for DoH cache-control: the smallest answer TTL, or
                                    // min(SOA TTL, MINIMUM) for a negative answer (RFC 8484 §5.1)
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
