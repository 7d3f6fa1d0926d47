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
