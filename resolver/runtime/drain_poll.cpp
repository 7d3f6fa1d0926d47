// SPDX-License-Identifier: MIT
#include "resolver/runtime/drain_poll.hpp"

#include <utility>

namespace resolver::runtime {

Status DrainPoll::start(uv_loop_t* loop, std::function<void()> tick) {
    auto t =
        util::UvHandle<uv_timer_t>::create([&](uv_timer_t* h) { return uv_timer_init(loop, h); });
    if (!t) {
        return t.error();
    }
    tick_ = std::move(tick);
    timer_ = std::move(t).value();
    timer_.get()->data = this;
    uv_timer_start(
        timer_.get(), [](uv_timer_t* h) { static_cast<DrainPoll*>(h->data)->tick_(); }, 0,
        kIntervalMs);
    return ok();
}

} // namespace resolver::runtime
