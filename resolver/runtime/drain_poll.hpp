// SPDX-License-Identifier: MIT
#pragma once
#include <cstdint>
#include <functional>

#include <uv.h>

#include "resolver/core/result.hpp"
#include "resolver/util/c_handles.hpp"

namespace resolver::runtime {

/// The shutdown drain's poll: a repeating timer on one loop that runs `tick` at once and then
/// every kIntervalMs until close(). A Worker and the Server both drain this way, because
/// nothing tells them when the last query, connection or worker has finished (those end in
/// their own callbacks, some on other threads): they look, and `tick` decides.
///
/// Loop-thread only. Neither copyable nor movable: the timer's data points at this object.
class DrainPoll {
public:
    static constexpr std::uint64_t kIntervalMs = 10;

    DrainPoll() = default;
    DrainPoll(const DrainPoll&) = delete;
    DrainPoll& operator=(const DrainPoll&) = delete;

    /// Starts polling on `loop` (first tick on the loop's next timer pass). An error when libuv
    /// cannot make the timer; nothing polls then, so the caller finishes at once.
    Status start(uv_loop_t* loop, std::function<void()> tick);

    /// Stops polling (the timer closes; libuv frees it a loop iteration later). Safe from
    /// inside `tick`, before start() and twice.
    void close() noexcept { timer_.close(); }

private:
    std::function<void()> tick_; // before timer_: the timer is closed before tick_ goes
    util::UvHandle<uv_timer_t> timer_;
};

} // namespace resolver::runtime
