// SPDX-License-Identifier: MIT
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

namespace resolver::io {

/// Limits shared by every stream listener (TCP, DoT, DoH). The three deadlines run on
/// complete requests, never on byte arrival: a client trickling bytes that never complete a
/// message moves none of them (issue 12: one byte every 4 s held a connection forever).
struct StreamLimits {
    /// RFC 7766 §6.2.3: a connection with nothing in flight and no request in progress is
    /// closed this long after its last complete request or answer.
    unsigned idle_timeout_ms = 10000;
    /// TLS only: from accept to a finished handshake (a trickled ClientHello ends here).
    unsigned handshake_timeout_ms = 5000;
    /// A request must be complete within this long of its first byte (DoT/TCP message,
    /// HTTP/1.1 request, HTTP/2 frame or stream); like nginx's client_header_timeout.
    unsigned request_timeout_ms = 5000;
    /// At the cap a new connection closes the stalest one that has nothing in flight (the
    /// slowest handshake or request, else the longest idle), as dnsdist and nghttpx do, so
    /// slow clients cannot lock everyone out; only when every connection has answers
    /// outstanding is the new one closed at accept.
    std::size_t max_connections = 1024;
    std::size_t max_message_size = 65535;
    std::size_t max_in_flight = 256; // per connection: pipelined queries / HTTP/2 streams
};

/// What a DoT/DoH listener counts for metrics: plain integers, written and read on the
/// listener's loop only.
struct ListenerCounters {
    std::uint64_t tls_handshakes = 0;         // completed
    std::uint64_t tls_handshake_failures = 0; // connections closed before a completed handshake
    std::map<int, std::uint64_t> http_status; // DoH responses sent, by status
};

/// SO_REUSEPORT (socket(7)) on a listener socket, so that worker loops each have their own
/// socket on one port and the kernel spreads datagrams and connections over them.
enum class ReusePort : std::uint8_t {
    Off,
    /// Set after bind (the first worker): at bind time the socket shares with nobody, so it
    /// never joins the group of another process of the same user that holds the port (with
    /// port 0 the kernel would otherwise treat such a port as free for a reuseport socket).
    AfterBind,
    /// Set before bind (the other workers): joins the first worker's socket on that port.
    BeforeBind,
};

/// A bound, listening socket. Lives on one loop.
class Listener {
public:
    virtual ~Listener() = default;
    /// The URL with the real bound address and port (`udp://127.0.0.1:0` reads back the port).
    [[nodiscard]] virtual std::string url() const = 0;
    /// Stops accepting new queries/connections; in-flight work may still complete.
    virtual void stop() = 0;
    /// Connections or queries still being served, for graceful shutdown.
    [[nodiscard]] virtual std::size_t active() const = 0;
    /// TLS and HTTP counters; null for listeners without TLS.
    [[nodiscard]] virtual const ListenerCounters* counters() const { return nullptr; }
};

using ListenerPtr = std::unique_ptr<Listener>;

} // namespace resolver::io
