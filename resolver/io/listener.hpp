// SPDX-License-Identifier: MIT
#pragma once
#include <cstddef>
#include <memory>
#include <string>

namespace resolver::io {

/// Limits shared by every stream listener (TCP, DoT, DoH).
struct StreamLimits {
    unsigned idle_timeout_ms = 10000;   // RFC 7766 §6.2.3: close idle connections
    std::size_t max_connections = 1024; // beyond this, new connections are closed at once
    std::size_t max_message_size = 65535;
    std::size_t max_in_flight = 256; // per connection: pipelined queries / HTTP/2 streams
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
};

using ListenerPtr = std::unique_ptr<Listener>;

} // namespace resolver::io
