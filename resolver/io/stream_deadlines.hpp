// SPDX-License-Identifier: MIT
#pragma once
#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <type_traits>

#include "resolver/io/listener.hpp"

namespace resolver::io {

/// The deadlines of one stream connection (TCP, DoT, DoH), as pure bookkeeping on loop time in
/// milliseconds: the owner feeds it events and arms one timer at next_check(). No deadline
/// moves when bytes arrive; they move when a request completes or an answer goes out
/// (progress), so a client that trickles bytes without finishing a message is closed:
///  - handshake: accept + handshake_timeout_ms, until handshake_done() (TLS only);
///  - request:   first byte of the oldest incomplete request + request_timeout_ms;
///  - idle:      last progress + idle_timeout_ms, only while nothing is in flight and no
///               request is in progress (RFC 7766 §6.2.3: idle means nothing outstanding).
/// Not thread-safe; one per connection.
class StreamDeadlines {
public:
    enum class Expired : std::uint8_t { None, Handshake, Request, Idle };
    static constexpr std::uint64_t kNever = std::numeric_limits<std::uint64_t>::max();

    StreamDeadlines(const StreamLimits& limits, std::uint64_t now, bool handshake)
        : handshake_ms_(limits.handshake_timeout_ms), request_ms_(limits.request_timeout_ms),
          idle_ms_(limits.idle_timeout_ms), start_(now), last_progress_(now),
          handshaking_(handshake) {}

    void handshake_done(std::uint64_t now) {
        handshaking_ = false;
        last_progress_ = now;
    }
    /// A request completed or an answer went out: the idle period restarts.
    void progress(std::uint64_t now) { last_progress_ = std::max(last_progress_, now); }
    /// Loop time of the first byte of the oldest request still incomplete; nullopt when every
    /// byte received belongs to a complete request (or the owner paused reading).
    void set_incomplete(std::optional<std::uint64_t> since) { incomplete_since_ = since; }
    /// Graceful shutdown: from now on a connection with nothing outstanding closes after
    /// `settle_ms` (time for a request already on the wire to arrive).
    void drain(std::uint64_t now, unsigned settle_ms) {
        idle_ms_ = std::min<std::uint64_t>(idle_ms_, settle_ms);
        last_progress_ = now;
    }

    /// Which deadline has passed at `now`; `busy` = answers outstanding.
    [[nodiscard]] Expired expired(std::uint64_t now, bool busy) const {
        if (handshaking_) {
            return now >= start_ + handshake_ms_ ? Expired::Handshake : Expired::None;
        }
        if (incomplete_since_) {
            return now >= *incomplete_since_ + request_ms_ ? Expired::Request : Expired::None;
        }
        return !busy && now >= last_progress_ + idle_ms_ ? Expired::Idle : Expired::None;
    }
    /// When expired() can next change without another event; kNever when only an event
    /// (an answer, more bytes) can move it.
    [[nodiscard]] std::uint64_t next_check(bool busy) const {
        if (handshaking_) {
            return start_ + handshake_ms_;
        }
        if (incomplete_since_) {
            return *incomplete_since_ + request_ms_;
        }
        return busy ? kNever : last_progress_ + idle_ms_;
    }
    /// Since when this connection has made no progress: the eviction order at the cap.
    [[nodiscard]] std::uint64_t stale_since() const noexcept {
        return handshaking_ ? start_ : last_progress_;
    }
    [[nodiscard]] bool handshaking() const noexcept { return handshaking_; }

private:
    std::uint64_t handshake_ms_;
    std::uint64_t request_ms_;
    std::uint64_t idle_ms_;
    std::uint64_t start_;
    std::uint64_t last_progress_;
    std::optional<std::uint64_t> incomplete_since_;
    bool handshaking_;
};

/// Tracks when the message in progress began, for StreamDeadlines::set_incomplete(), from what
/// a session learns after consuming one read: whether a message completed in it and whether
/// bytes of an unfinished one remain. Granularity is one read: a message that starts in the
/// read that completed the previous one is dated to that read.
class IncompleteSince {
public:
    void after_read(std::uint64_t now, bool completed_one, bool partial_left) {
        if (!partial_left) {
            since_.reset();
        } else if (completed_one || !since_) {
            since_ = now;
        }
    }
    void reset() { since_.reset(); }
    [[nodiscard]] std::optional<std::uint64_t> get() const { return since_; }

private:
    std::optional<std::uint64_t> since_;
};

/// At the connection cap, the connection to close for a new one: among those `evictable`
/// (nothing in flight, not already closing) the one whose StreamDeadlines::stale_since() is
/// oldest; nullptr when none may go. `conns` maps raw pointers to their owners, as both
/// stream listeners keep them.
template <class Map, class Evictable, class Stale>
auto* stalest_connection(const Map& conns, Evictable evictable, Stale stale_since) {
    std::remove_const_t<decltype(conns.begin()->first)> best = nullptr;
    std::uint64_t best_since = StreamDeadlines::kNever;
    for (const auto& [raw, owner] : conns) {
        if (evictable(*raw) && stale_since(*raw) < best_since) {
            best = raw;
            best_since = stale_since(*raw);
        }
    }
    return best;
}

} // namespace resolver::io
