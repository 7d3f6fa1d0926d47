// SPDX-License-Identifier: MIT
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <uv.h>

#include "resolver/upstream/upstream.hpp"
#include "resolver/util/url.hpp"

namespace probes::session {

/// One exchange to perform: a query (wire, ID already chosen) for one upstream URL.
/// Jobs with the same URL share one Upstream object, hence its connections.
struct Job {
    resolver::util::Url url;
    std::vector<std::uint8_t> query;
};

/// What happened to one Job.
struct Outcome {
    std::optional<resolver::upstream::Exchange> exchange; // set on success
    std::string error;                                    // set on failure
    std::uint64_t sent_us = 0;     // wall clock, microseconds since the epoch
    std::uint64_t answered_us = 0; // wall clock at completion
};

/// Runs exchanges concurrently on one libuv loop, one Upstream per distinct URL, created
/// only through resolver::runtime::make_upstream. Retries and timeouts are the
/// upstream's (UpstreamOptions). Single-threaded; lives on the loop's thread.
class Engine {
public:
    Engine(uv_loop_t* loop, resolver::upstream::UpstreamOptions opts);
    ~Engine();
    Engine(const Engine&) = delete;
    Engine& operator=(const Engine&) = delete;

    /// Sends every job (at most `max_in_flight` outstanding), runs the loop until all have
    /// completed and returns the outcomes in job order. A URL the factory rejects fails
    /// its jobs with the factory's message. Upstreams (and connections) survive between
    /// calls, so a second run() is a warm pass.
    std::vector<Outcome> run(const std::vector<Job>& jobs, std::size_t max_in_flight = 64);

    /// Shuts every upstream down and runs the loop until their handles are closed.
    /// Idempotent; run() must not be called afterwards.
    void close();

private:
    resolver::upstream::Upstream* upstream_for(const resolver::util::Url& url, std::string& error);

    uv_loop_t* loop_;
    resolver::upstream::UpstreamOptions opts_;
    std::map<std::string, resolver::upstream::UpstreamPtr> upstreams_;
    bool closed_ = false;
};

/// Wall-clock microseconds since the epoch (for pcap timestamps).
std::uint64_t wall_us();

} // namespace probes::session
