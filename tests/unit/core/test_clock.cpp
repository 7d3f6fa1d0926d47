// SPDX-License-Identifier: MIT
// WallFromSteady: a query's wall-clock arrival from its steady one, the offset read again
// once a millisecond of steady time has passed or steady time ran backwards.
#include <doctest/doctest.h>

#include "resolver/core/clock.hpp"

namespace core = resolver::core;
using namespace std::chrono_literals;

namespace {

/// Both time lines set by hand, each on its own (a stepped system clock).
class SplitClock final : public core::Clock {
public:
    std::chrono::steady_clock::time_point steady{std::chrono::hours(5)};
    std::chrono::system_clock::time_point system{std::chrono::seconds(1720000000)};
    mutable int wall_reads = 0;
    [[nodiscard]] std::chrono::steady_clock::time_point now() const override { return steady; }
    [[nodiscard]] std::chrono::system_clock::time_point wall() const override {
        ++wall_reads;
        return system;
    }
};

} // namespace

TEST_CASE("WallFromSteady: exact while both clocks move together, one wall read a millisecond") {
    SplitClock c;
    core::WallFromSteady w;
    CHECK(w.at(c, c.steady) == c.system);
    for (int i = 0; i < 10; ++i) { // 100 us apart: the offset read once
        c.steady += 100us;
        c.system += 100us;
        CHECK(w.at(c, c.steady) == c.system);
    }
    CHECK(c.wall_reads == 1);
    c.steady += 2ms;
    c.system += 2ms;
    CHECK(w.at(c, c.steady) == c.system);
    CHECK(c.wall_reads == 2);
}

TEST_CASE("WallFromSteady: a stepped system clock is followed within a millisecond") {
    SplitClock c;
    core::WallFromSteady w;
    (void)w.at(c, c.steady);
    c.system += 10s; // NTP steps the clock
    c.steady += 500us;
    c.system += 500us;
    CHECK(w.at(c, c.steady) == c.system - 10s); // not yet: within kResync of the sync
    c.steady += 600us;
    c.system += 600us;
    CHECK(w.at(c, c.steady) == c.system); // 1.1 ms on: read again
    // Steady time running backwards (another clock's instants) reads the offset again too.
    c.steady -= 1s;
    c.system -= 1s;
    c.system += 3s;
    CHECK(w.at(c, c.steady) == c.system);
}
