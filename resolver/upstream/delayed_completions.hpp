// SPDX-License-Identifier: MIT
#pragma once
#include <cstdint>
#include <map>
#include <memory>

#include <uv.h>

#include "resolver/upstream/upstream.hpp"
#include "resolver/util/c_handles.hpp"

namespace resolver::upstream {

/// Upstream completions to run "later" on the loop: the fixture upstream answers on the next
/// loop turn or after an injected delay, and the fault wrapper delays real answers. One timer
/// serves every entry; entries due at the same time run FIFO, as one batch.
///
/// Every scheduled completion runs exactly once (the Upstream contract): when it is due, or
/// with the `cancelled` error given at creation once cancel_all() ran. A completion may send
/// again, call cancel_all() or destroy the queue's owner (and with it the queue): the rest of
/// its batch then receives the `cancelled` error. Loop-thread only; not movable.
class DelayedCompletions {
public:
    static Result<std::unique_ptr<DelayedCompletions>> create(uv_loop_t* loop, Error cancelled);
    ~DelayedCompletions();
    DelayedCompletions(const DelayedCompletions&) = delete;
    DelayedCompletions& operator=(const DelayedCompletions&) = delete;

    /// Runs `done(result)` after `delay_ms` (0 = next loop turn). With `sent_ns` (uv_hrtime()
    /// of the send), the delivered Exchange's query_ms is filled at delivery time.
    void schedule(unsigned delay_ms, Result<Exchange> result, Completion done,
                  std::uint64_t sent_ns = 0);
    /// Completes everything queued with the `cancelled` error; later schedules complete at once.
    void cancel_all();
    [[nodiscard]] std::size_t size() const noexcept { return pending_.size(); }

private:
    struct Pending {
        Result<Exchange> result;
        Completion done;
        std::uint64_t sent_ns = 0;
    };
    DelayedCompletions(uv_loop_t* loop, Error cancelled)
        : loop_(loop), cancelled_error_(std::move(cancelled)) {}
    void arm();
    void on_timer();

    uv_loop_t* loop_;
    Error cancelled_error_;
    std::shared_ptr<bool> cancelled_ = std::make_shared<bool>(false);
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true); // lets on_timer see its own end
    std::multimap<std::uint64_t, Pending> pending_;              // due (uv_now ms) -> completion
    util::UvHandle<uv_timer_t> timer_; // last: closed first, its callback reads pending_
};

} // namespace resolver::upstream
