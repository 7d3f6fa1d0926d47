// SPDX-License-Identifier: MIT
// The deadline bookkeeping of stream connections (issue 12: one byte every 4 s held a TLS
// connection forever because every byte reset the idle timer), on a manual clock.
#include <doctest/doctest.h>

#include <memory>
#include <unordered_map>

#include "resolver/io/h2_frame_boundary.hpp"
#include "resolver/io/stream_deadlines.hpp"

using resolver::io::H2FrameBoundary;
using resolver::io::IncompleteSince;
using resolver::io::StreamDeadlines;
using resolver::io::StreamLimits;
using Expired = StreamDeadlines::Expired;

namespace {
StreamLimits limits() {
    StreamLimits l;
    l.handshake_timeout_ms = 5000;
    l.request_timeout_ms = 3000;
    l.idle_timeout_ms = 10000;
    return l;
}
} // namespace

TEST_SUITE_BEGIN("io.deadlines");

TEST_CASE("the handshake deadline runs from accept, whatever arrives") {
    StreamDeadlines d(limits(), 1000, true);
    CHECK(d.next_check(false) == 6000);
    CHECK(d.expired(5999, false) == Expired::None);
    CHECK(d.expired(6000, false) == Expired::Handshake);
    d.set_incomplete(1500); // bytes of a ClientHello change nothing
    CHECK(d.expired(6000, false) == Expired::Handshake);
    CHECK(d.stale_since() == 1000);
}

TEST_CASE("a request must be complete within request_timeout_ms of its first byte") {
    StreamDeadlines d(limits(), 0, true);
    d.handshake_done(100);
    d.set_incomplete(2000); // the first byte of a query
    CHECK(d.next_check(false) == 5000);
    CHECK(d.expired(4999, false) == Expired::None);
    CHECK(d.expired(5000, false) == Expired::Request);
    CHECK(d.expired(5000, true) == Expired::Request); // answers in flight do not excuse it
    d.set_incomplete(std::nullopt);                   // it completed
    d.progress(4000);
    CHECK(d.expired(5000, false) == Expired::None);
    CHECK(d.next_check(false) == 14000);
}

TEST_CASE("idle runs from the last progress, only with nothing in flight and nothing partial") {
    StreamDeadlines d(limits(), 0, false);
    CHECK(d.next_check(false) == 10000);
    CHECK(d.next_check(true) == StreamDeadlines::kNever); // the answer re-arms it
    CHECK(d.expired(20000, true) == Expired::None);
    CHECK(d.expired(10000, false) == Expired::Idle);
    d.progress(8000);
    CHECK(d.expired(10000, false) == Expired::None);
    CHECK(d.expired(18000, false) == Expired::Idle);
    d.progress(100); // progress never goes back in time
    CHECK(d.stale_since() == 8000);
}

TEST_CASE("draining shortens the idle period to the settle time") {
    StreamDeadlines d(limits(), 0, false);
    d.drain(5000, 100);
    CHECK(d.next_check(false) == 5100);
    CHECK(d.expired(5100, false) == Expired::Idle);
    CHECK(d.expired(5100, true) == Expired::None); // an answer still outstanding keeps it
}

TEST_CASE("IncompleteSince dates a partial message to the read its first byte came in") {
    IncompleteSince s;
    s.after_read(100, false, true); // first bytes of a message
    CHECK(s.get() == 100);
    s.after_read(200, false, true); // more bytes of the same message: still 100
    CHECK(s.get() == 100);
    s.after_read(300, true, true); // it completed and the next one started in this read
    CHECK(s.get() == 300);
    s.after_read(400, true, false); // complete, nothing left
    CHECK_FALSE(s.get().has_value());
}

TEST_CASE("at the cap the evictable connection with the oldest progress goes first") {
    struct Conn {
        bool busy;
        std::uint64_t stale;
    };
    std::unordered_map<Conn*, std::unique_ptr<Conn>> conns;
    auto add = [&](bool busy, std::uint64_t stale) {
        auto c = std::make_unique<Conn>(Conn{busy, stale});
        Conn* raw = c.get();
        conns.emplace(raw, std::move(c));
        return raw;
    };
    auto pick = [&] {
        return resolver::io::stalest_connection(
            conns, [](const Conn& c) { return !c.busy; }, [](const Conn& c) { return c.stale; });
    };
    add(true, 10);               // oldest, but an answer is outstanding
    Conn* slow = add(false, 20); // a trickled handshake since t=20
    add(false, 500);             // idle since t=500
    CHECK(pick() == slow);
    slow->busy = true;
    CHECK(pick()->stale == 500);
    for (auto& [raw, c] : conns) {
        c->busy = true;
    }
    CHECK(pick() == nullptr); // all busy: the newcomer is refused instead
}

TEST_CASE("H2FrameBoundary follows the preface and frame lengths across any split") {
    H2FrameBoundary b;
    const std::string preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    auto feed = [&](std::string_view s) {
        return b.feed({reinterpret_cast<const std::uint8_t*>(s.data()), s.size()});
    };
    CHECK_FALSE(b.mid_frame());
    CHECK_FALSE(feed(preface.substr(0, 5)));
    CHECK(b.mid_frame());
    CHECK(feed(preface.substr(5)));
    CHECK_FALSE(b.mid_frame());
    // An empty SETTINGS frame, then a PING (8 bytes), one byte at a time for the PING.
    CHECK(feed(std::string("\0\0\0\x04\0\0\0\0\0", 9)));
    CHECK_FALSE(b.mid_frame());
    const std::string ping = std::string("\0\0\x08\x06\0\0\0\0\0", 9) + std::string(8, 'p');
    for (std::size_t i = 0; i + 1 < ping.size(); ++i) {
        CHECK_FALSE(feed(ping.substr(i, 1)));
        CHECK(b.mid_frame());
    }
    CHECK(feed(ping.substr(ping.size() - 1)));
    CHECK_FALSE(b.mid_frame());
    // A frame whose 24-bit length spans 65,536 bytes plus the start of another.
    const std::string big_head("\x01\x00\x00\x00\x00\x00\x00\x00\x01", 9);
    CHECK_FALSE(feed(big_head + std::string(65535, 'x')));
    CHECK(feed(std::string(1, 'x') + std::string("\0\0", 2)));
    CHECK(b.mid_frame()); // the next frame's header has begun
}

TEST_SUITE_END();
