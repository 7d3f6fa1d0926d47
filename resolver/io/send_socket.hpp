// SPDX-License-Identifier: MIT
#pragma once
#include <sys/socket.h>

#include "resolver/core/result.hpp"

namespace resolver::io {

/// A UDP socket that only sends, for a listener bound to one address (not a wildcard): bound
/// to the listener's own address and port (SO_REUSEPORT, so the listener's socket must have
/// it set), then sealed: connected to that same endpoint. A sealed socket never receives a
/// client's datagram: a connected socket gets only datagrams from the endpoint it is
/// connected to, which is the listener itself (whose datagrams the listener drops anyway,
/// is_own_endpoint), and the kernel's reuseport selection passes connected sockets by.
///
/// Why a second socket: every datagram sent passes the sending socket's wait queue on its way
/// out (sock_wfree), and the listener's socket has libuv's epoll entry there, behind a lock
/// that every arriving query takes too. Sending from a socket nobody waits on measured 1.08-1.10x
/// the queries per CPU-second on UDP cache hits (docs/design-notes.md, item 14). Answers
/// still come from the address and port the query was sent to: clients see no difference.
///
/// Until it is sealed the socket is an ordinary member of the listener's reuseport group
/// and gets its share of datagrams: whoever opens it reads them (the listener does, at its
/// loop's first turn). Worker loops seal theirs only once every worker's sockets are bound:
/// a group is spread evenly only when each sender joined it right after its listener and
/// was connected after all of them joined (Linux 6.18 takes a connected socket out of the
/// group, and a socket bound later would start a new group around it).
class SendSocket {
public:
    SendSocket() = default;
    /// Bound, not sealed. `bound`: the listener socket's own address (getsockname).
    static Result<SendSocket> open(const sockaddr* bound, socklen_t length);

    SendSocket(SendSocket&& other) noexcept;
    SendSocket& operator=(SendSocket&& other) noexcept;
    SendSocket(const SendSocket&) = delete;
    SendSocket& operator=(const SendSocket&) = delete;
    ~SendSocket();

    /// Connects the socket to its own address: from now on it receives nothing.
    Status seal();
    [[nodiscard]] bool sealed() const noexcept { return sealed_; }
    [[nodiscard]] int fd() const noexcept { return fd_; }
    [[nodiscard]] explicit operator bool() const noexcept { return fd_ >= 0; }

private:
    int fd_ = -1;
    bool sealed_ = false;
    sockaddr_storage own_{};
    socklen_t own_length_ = 0;
};

} // namespace resolver::io
