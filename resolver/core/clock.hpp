// SPDX-License-Identifier: MIT
#pragma once
#include <chrono>

namespace resolver::core {

/// Where time comes from (STYLE rule 6): the live resolver reads the system clocks, tests and
/// `explain --at` set the time by hand. Thread affinity: whatever the owner's is.
class Clock {
public:
    virtual ~Clock() = default;
    /// Monotonic time: TTL countdown, deadlines, response time.
    [[nodiscard]] virtual std::chrono::steady_clock::time_point now() const = 0;
    /// Wall-clock time: the log's Datetime, rule schedules and expirations.
    [[nodiscard]] virtual std::chrono::system_clock::time_point wall() const = 0;
};

class SystemClock final : public Clock {
public:
    [[nodiscard]] std::chrono::steady_clock::time_point now() const override {
        return std::chrono::steady_clock::now();
    }
    [[nodiscard]] std::chrono::system_clock::time_point wall() const override {
        return std::chrono::system_clock::now();
    }
};

/// The wall-clock time of steady-clock instants from an offset between the two, read again
/// once steady time has moved on by kResync (or ran backwards): on a busy loop one clock read
/// per query instead of two. Within kResync of the system clock after it is stepped, else
/// within what it slews in kResync (microseconds). One per thread; for the live clocks only
/// (a hand-set clock may change its wall time without moving its steady time).
class WallFromSteady {
public:
    static constexpr std::chrono::milliseconds kResync{1};
    [[nodiscard]] std::chrono::system_clock::time_point
    at(const Clock& clock, std::chrono::steady_clock::time_point t) noexcept {
        if (!synced_ || t < synced_at_ || t - synced_at_ > kResync) {
            offset_ = std::chrono::duration_cast<std::chrono::nanoseconds>(
                          clock.wall().time_since_epoch()) -
                      std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch());
            synced_at_ = t;
            synced_ = true;
        }
        return std::chrono::system_clock::time_point(
            std::chrono::duration_cast<std::chrono::system_clock::duration>(
                std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()) +
                offset_));
    }

private:
    bool synced_ = false;
    std::chrono::steady_clock::time_point synced_at_;
    std::chrono::nanoseconds offset_{0};
};

/// A clock that moves only when told to; both time lines advance together.
class ManualClock final : public Clock {
public:
    explicit ManualClock(std::chrono::system_clock::time_point wall_start = {})
        : wall_(wall_start) {}
    [[nodiscard]] std::chrono::steady_clock::time_point now() const override { return now_; }
    [[nodiscard]] std::chrono::system_clock::time_point wall() const override { return wall_; }
    void advance(std::chrono::milliseconds d) {
        now_ += d;
        wall_ += d;
    }

private:
    std::chrono::steady_clock::time_point now_{std::chrono::hours(1)};
    std::chrono::system_clock::time_point wall_;
};

} // namespace resolver::core
