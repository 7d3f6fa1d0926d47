// SPDX-License-Identifier: MIT
#include "probes/session/engine.hpp"

#include <chrono>
#include <deque>
#include <memory>

#include "resolver/runtime/upstream_factory.hpp"

namespace probes::session {
namespace upstream = resolver::upstream;

std::uint64_t wall_us() {
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                          std::chrono::system_clock::now().time_since_epoch())
                                          .count());
}

Engine::Engine(uv_loop_t* loop, upstream::UpstreamOptions opts) : loop_(loop), opts_(opts) {}

Engine::~Engine() {
    close();
}

upstream::Upstream* Engine::upstream_for(const resolver::util::Url& url, std::string& error) {
    const auto key = url.to_string();
    if (auto it = upstreams_.find(key); it != upstreams_.end()) {
        return it->second.get();
    }
    auto made = resolver::runtime::make_upstream(loop_, url, opts_);
    if (!made) {
        error = made.error().detail;
        return nullptr;
    }
    return upstreams_.emplace(key, std::move(made).value()).first->second.get();
}

std::vector<Outcome> Engine::run(const std::vector<Job>& jobs, std::size_t max_in_flight) {
    std::vector<Outcome> out(jobs.size());
    // Completion state is shared with the callbacks; a shared_ptr keeps it valid should an
    // upstream complete a send after run() returned (it must not, but shutdown paths vary).
    struct State {
        std::size_t done = 0;
        std::size_t in_flight = 0;
    };
    auto state = std::make_shared<State>();
    std::size_t next = 0;
    auto start_more = [&] {
        while (next < jobs.size() && state->in_flight < max_in_flight) {
            const std::size_t i = next++;
            std::string error;
            auto* up = upstream_for(jobs[i].url, error);
            out[i].sent_us = wall_us();
            if (up == nullptr) {
                out[i].error = error;
                out[i].answered_us = out[i].sent_us;
                ++state->done;
                continue;
            }
            ++state->in_flight;
            // `out` outlives every callback: run() does not return before done == size.
            up->send(jobs[i].query, [&out, i, state](resolver::Result<upstream::Exchange> r) {
                out[i].answered_us = wall_us();
                if (r) {
                    out[i].exchange = std::move(r).value();
                } else {
                    out[i].error = r.error().detail;
                }
                --state->in_flight;
                ++state->done;
            });
        }
    };
    start_more();
    while (state->done < jobs.size()) {
        // UV_RUN_ONCE rather than DEFAULT: idle connection timers would keep DEFAULT
        // running long after our last answer.
        const int alive = uv_run(loop_, UV_RUN_ONCE);
        start_more();
        if (alive == 0 && state->done < jobs.size() && state->in_flight > 0 &&
            uv_loop_alive(loop_) == 0) {
            // Nothing left that could complete the outstanding sends: report, don't spin.
            for (auto& o : out) {
                if (!o.exchange && o.error.empty()) {
                    o.error = "upstream stopped without completing the query";
                }
            }
            break;
        }
    }
    return out;
}

void Engine::close() {
    if (closed_) {
        return; // idempotent: the destructor may run after the loop was closed
    }
    closed_ = true;
    for (auto& [url, up] : upstreams_) {
        up->shutdown();
    }
    upstreams_.clear();
    // Let close callbacks run; bounded so a client that leaves a timer armed cannot hang us.
    for (int i = 0; i < 100 && uv_loop_alive(loop_) != 0; ++i) {
        uv_run(loop_, UV_RUN_NOWAIT);
    }
}

} // namespace probes::session
