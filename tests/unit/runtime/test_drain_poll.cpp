// SPDX-License-Identifier: MIT
// The shutdown drain's poll (Worker and Server): it ticks at once, then every interval, until
// closed from its own tick; then the loop has nothing left and returns.
#include <cstdint>

#include <doctest/doctest.h>
#include <uv.h>

#include "resolver/runtime/drain_poll.hpp"
#include "tests/unit/support/test_loop.hpp"

using resolver::runtime::DrainPoll;
using test_support::Loop;

TEST_SUITE_BEGIN("runtime.drain_poll");

TEST_CASE("the drain poll ticks until its tick closes it") {
    Loop l;
    DrainPoll poll;
    int ticks = 0;
    std::uint64_t first = 0;
    std::uint64_t last = 0;
    REQUIRE(poll.start(&l.loop, [&] {
        last = uv_now(&l.loop);
        if (++ticks == 1) {
            first = last;
        }
        if (ticks == 3) {
            poll.close(); // as Worker::finish() does from inside the tick
        }
    }));
    CHECK(ticks == 0);               // nothing runs before the loop does
    uv_run(&l.loop, UV_RUN_DEFAULT); // returns: the closed timer was the only handle
    CHECK(ticks == 3);
    // Two repeats of the interval between the first tick and the third (loop time).
    CHECK(last - first >= 2 * DrainPoll::kIntervalMs);
}

TEST_CASE("a drain poll never started, or closed twice, leaves nothing open") {
    Loop l;
    DrainPoll never;
    never.close();
    DrainPoll twice;
    int ticks = 0;
    REQUIRE(twice.start(&l.loop, [&] { ++ticks; }));
    twice.close();
    twice.close();
    uv_run(&l.loop, UV_RUN_DEFAULT);
    CHECK(ticks == 0); // closed before its first tick
}

TEST_SUITE_END();
