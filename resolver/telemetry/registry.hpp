// SPDX-License-Identifier: MIT
#pragma once
#include <functional>
#include <string>
#include <vector>

#include <uv.h>

#include "resolver/core/result.hpp"
#include "resolver/telemetry/scrape.hpp"

namespace resolver::telemetry {

/// The aggregation point of the metrics: a list of counter sources, each owned by one loop,
/// that a scrape merges into one Scrape and renders once. A source adds its loop's counters
/// into the Scrape it is given (`+=`, never `=`), so N worker loops each keep plain per-loop
/// structs and the scrape sums them.
///
/// Thread affinity: add() and collect() run on the serving loop (the one whose MetricsServer
/// answers /metrics), and so is every source called. A worker loop's source is registered
/// wrapped in a bridge (runtime/telemetry.cpp) that runs it on the worker's thread while the
/// serving loop waits, so per-loop counters stay plain integers read by their own thread.
class MetricsRegistry {
public:
    using Source = std::function<void(Scrape&)>;

    MetricsRegistry(uv_loop_t* serving_loop, std::string version)
        : loop_(serving_loop), version_(std::move(version)) {}

    /// Adds a source owned by `loop`. Errors when `loop` is not the serving loop.
    Status add(uv_loop_t* loop, Source source);
    /// Every source merged, in the order added.
    [[nodiscard]] Scrape collect() const;
    /// The text exposition of collect().
    [[nodiscard]] std::string render() const;

private:
    uv_loop_t* loop_;
    std::string version_;
    std::vector<Source> sources_;
};

} // namespace resolver::telemetry
