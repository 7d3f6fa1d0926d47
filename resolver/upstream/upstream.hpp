// SPDX-License-Identifier: MIT
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "resolver/core/result.hpp"

namespace resolver::fault {
class LivePlans;
}

namespace resolver::upstream {

/// A finished exchange with one server. Also what the probe reports per target, so it
/// carries the transport details (HTTP status, timings) besides the DNS answer.
struct Exchange {
    std::vector<std::uint8_t> wire; // the DNS answer, unparsed (may be empty for HTTP errors)
    std::string body;               // DoH JSON (method=json) or an HTTP error body, verbatim
    std::string server;             // "ip:port" or the URL that answered
    int http_status = 0;            // DoH only
    std::string content_type;       // DoH only
    double connect_ms = 0;          // 0 when an existing connection was reused
    double query_ms = 0;            // from send to answer
    bool reused_connection = false;
};

/// Knobs every upstream kind understands. URL parameters may override them per upstream.
struct UpstreamOptions {
    unsigned timeout_ms = 2000;         // per attempt, from send to answer
    unsigned tries = 2;                 // attempts per server before it counts as failed
    unsigned connect_timeout_ms = 2000; // TCP/TLS connection set-up
    unsigned idle_timeout_ms = 10000;   // close an unused DoT/DoH connection after this
    /// Where upstreams with a `faults=FILE` plan register it, so the resolver can re-read the
    /// file on SIGHUP. Not owned; null: plans are fixed.
    fault::LivePlans* live_faults = nullptr;
};

/// Completion of one send(): called exactly once, on the loop thread, possibly before
/// send() returns. An error's detail names the server and the reason (timeout, refused,
/// TLS verification failure, HTTP status) and is shown to users as EDE EXTRA-TEXT.
using Completion = std::function<void(Result<Exchange>)>;

/// One way of getting an answer for a query: a Do53/DoT/DoH server, a fixture zone set,
/// or a group of those with failover. Lives on one loop; not thread-safe.
class Upstream {
public:
    virtual ~Upstream() = default;
    /// Sends one DNS query in wire format. The caller has written the message ID it wants
    /// on the wire (DoH clients force 0 per RFC 8484 §4.1 and restore it in the answer).
    virtual void send(std::vector<std::uint8_t> query, Completion done) = 0;
    /// The URL this upstream was created from, for logs.
    [[nodiscard]] virtual const std::string& url() const = 0;
    /// True when truncated (TC) answers are returned on purpose (`udp://…?tc=keep`, for
    /// the probe): the failover group then accepts them instead of failing them.
    [[nodiscard]] virtual bool keeps_truncated() const { return false; }
    /// Stops all I/O; pending sends complete with an error. Idempotent.
    virtual void shutdown() {}
};

using UpstreamPtr = std::unique_ptr<Upstream>;

} // namespace resolver::upstream
