// SPDX-License-Identifier: MIT
#pragma once
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <uv.h>

#include "resolver/io/listener.hpp"
#include "resolver/io/transport.hpp"
#include "resolver/util/url.hpp"

namespace resolver::io {

/// Settings of UDP listeners (config section [udp]).
struct UdpOptions {
    /// SO_RCVBUF asked for, so a burst (2,000 garbage datagrams, then a good query) waits in
    /// the kernel instead of being dropped while the loop is busy: the kernel's default is
    /// net.core.rmem_default (208 KiB). Capped by net.core.rmem_max; 0 keeps the default.
    std::size_t receive_buffer_bytes = std::size_t{4} << 20;
    /// SO_REUSEPORT: worker loops each bind their own socket to the same port and the kernel
    /// spreads datagrams over them by a hash of the 4-tuple.
    ReusePort reuse_port = ReusePort::Off;
};

/// Datagrams a UDP listener read, and those it dropped before the pipeline saw them, by
/// reason. Loop-thread only; for metrics and the stop summary.
struct UdpCounters {
    std::uint64_t received = 0;     // datagrams read from the socket
    std::uint64_t short_header = 0; // fewer than 12 bytes: no DNS header (RFC 1035 §4.1.1)
    std::uint64_t own_address = 0;  // source = the listener's own address and port
    std::uint64_t oversized = 0;    // larger than a receive slot (64 KiB): not DNS
    std::uint64_t read_errors = 0;  // recvmmsg(2) errors (ICMP errors reported on the socket)
    [[nodiscard]] std::uint64_t dropped() const { return short_header + own_address + oversized; }
};

/// Do53 over UDP (RFC 1035 §4.2.1). Every datagram with a DNS header is handed to `handler`;
/// the reply goes back to the sender from the address and port it was sent to (from a
/// SendSocket on that endpoint when the bind is not a wildcard). Truncation to the client's size
/// is the pipeline's job (it knows the client's EDNS), the listener only sends bytes.
///
/// Dropped before anything is allocated for them, and counted: datagrams too short for a
/// header, larger than a receive slot, and datagrams whose source is the listener's own
/// address and port. Answering those would answer ourselves: a spoofed packet from our
/// own address starts a loop of answers (200,897 packets in 5.7 s in the issue 12 test).
/// NSD, Unbound and dnsdist refuse them too.
class UdpListener : public Listener {
public:
    [[nodiscard]] virtual const UdpCounters& udp_counters() const = 0;
    /// SO_RCVBUF as the kernel reports it after the set-up (Linux reports twice what was
    /// granted: half of it is bookkeeping, socket(7)); 0 when it could not be read.
    [[nodiscard]] virtual std::size_t receive_buffer() const = 0;
    /// Empty when answers leave from a SendSocket, or from this socket because the bind is a
    /// wildcard (the kernel picks each answer's source address); otherwise why a bound
    /// address has no SendSocket (answers then leave from this socket, as correct, slower).
    [[nodiscard]] virtual const std::string& sender_problem() const = 0;
    /// Seals the SendSocket of a worker's listener (a lone listener's is sealed at start):
    /// called once every worker's listeners are bound, before the loops run (SendSocket says
    /// why). Any thread, before this listener's loop first turns.
    virtual void seal_sender() = 0;
};

/// `url`: udp://ADDR:PORT (port 0 allowed; url() reads back the real port).
Result<std::unique_ptr<UdpListener>> make_udp_listener(uv_loop_t* loop, const util::Url& url,
                                                       QueryHandler& handler,
                                                       const UdpOptions& options = {});

/// True when `from` is the address and port `local` is bound to. A wildcard `local`
/// (0.0.0.0, ::) matches a loopback source or any address in `host_addresses` (the host's
/// interface addresses); IPv4-mapped IPv6 addresses compare as IPv4.
bool is_own_endpoint(const sockaddr* from, const sockaddr_storage& local,
                     const std::vector<sockaddr_storage>& host_addresses);

} // namespace resolver::io
