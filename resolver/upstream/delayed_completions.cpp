// SPDX-License-Identifier: MIT
#include "resolver/upstream/delayed_completions.hpp"

#include <vector>

namespace resolver::upstream {

Result<std::unique_ptr<DelayedCompletions>> DelayedCompletions::create(uv_loop_t* loop,
                                                                       Error cancelled) {
    std::unique_ptr<DelayedCompletions> q(new DelayedCompletions(loop, std::move(cancelled)));
    auto timer =
        util::UvHandle<uv_timer_t>::create([&](uv_timer_t* t) { return uv_timer_init(loop, t); });
    if (!timer) {
        return timer.error();
    }
    q->timer_ = std::move(timer).value();
    q->timer_.get()->data = q.get();
    return q;
}

DelayedCompletions::~DelayedCompletions() {
    *alive_ = false;
    cancel_all(); // nothing may be left without its completion
}

void DelayedCompletions::schedule(unsigned delay_ms, Result<Exchange> result, Completion done,
                                  std::uint64_t sent_ns) {
    if (*cancelled_) {
        done(cancelled_error_);
        return;
    }
    if (delay_ms > 0) {
        uv_update_time(loop_); // the cached loop time may be a whole callback old
    }
    pending_.emplace(uv_now(loop_) + delay_ms,
                     Pending{std::move(result), std::move(done), sent_ns});
    arm();
}

void DelayedCompletions::cancel_all() {
    *cancelled_ = true;
    if (timer_) {
        uv_timer_stop(timer_.get());
    }
    auto pending = std::move(pending_);
    pending_.clear();
    const Error error = cancelled_error_; // a completion may destroy us
    for (auto& [due, p] : pending) {
        p.done(error);
    }
}

void DelayedCompletions::arm() {
    if (!timer_ || *cancelled_) {
        return;
    }
    if (pending_.empty()) {
        uv_timer_stop(timer_.get());
        return;
    }
    const std::uint64_t now = uv_now(loop_);
    const std::uint64_t due = pending_.begin()->first;
    uv_timer_start(
        timer_.get(), [](uv_timer_t* t) { static_cast<DelayedCompletions*>(t->data)->on_timer(); },
        due > now ? due - now : 0, 0);
}

void DelayedCompletions::on_timer() {
    // Take the whole due batch first: a completion may schedule, cancel or destroy us.
    const std::uint64_t now = uv_now(loop_);
    std::vector<Pending> batch;
    while (!pending_.empty() && pending_.begin()->first <= now) {
        batch.push_back(std::move(pending_.begin()->second));
        pending_.erase(pending_.begin());
    }
    const std::shared_ptr<bool> alive = alive_;
    const std::shared_ptr<bool> cancelled = cancelled_;
    const Error error = cancelled_error_;
    for (auto& p : batch) {
        if (!*alive || *cancelled) {
            p.done(error);
            continue;
        }
        if (p.result && p.sent_ns != 0) {
            p.result->query_ms = static_cast<double>(uv_hrtime() - p.sent_ns) / 1e6;
        }
        p.done(std::move(p.result));
    }
    if (*alive) {
        arm();
    }
}

} // namespace resolver::upstream
