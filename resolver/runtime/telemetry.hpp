// SPDX-License-Identifier: MIT
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <uv.h>

#include "resolver/cache/cache.hpp"
#include "resolver/config/config.hpp"
#include "resolver/io/listener.hpp"
#include "resolver/pipeline/pipeline.hpp"
#include "resolver/telemetry/dnstap.hpp"
#include "resolver/telemetry/metrics_server.hpp"
#include "resolver/telemetry/query_metrics.hpp"
#include "resolver/telemetry/registry.hpp"
#include "resolver/telemetry/upstream_meter.hpp"

namespace resolver::runtime {

/// Prometheus metrics (`--metrics`, [telemetry] metrics) and dnstap (`--dnstap`,
/// [telemetry] dnstap) of one process, composed from resolver/telemetry/. Per worker loop: a
/// MetricsObserver, the upstream meters and a DnstapObserver on that loop's pipeline, plus
/// the loop's source in the registry. Process-wide: the registry, the /metrics server (on
/// the serving loop), the dnstap writer (one input queue per loop) and the policy facts.
/// Main-thread only (a worker's source runs on the worker's thread through its bridge).
/// Destroy after the pipelines it observes.
class Telemetry {
public:
    /// Nothing is created for what the config leaves off. Errors name the key.
    static Result<std::unique_ptr<Telemetry>>
    create(uv_loop_t* serving_loop, const config::Config& cfg, const core::Clock& clock);
    ~Telemetry();

    [[nodiscard]] bool metrics_on() const { return !metrics_url_.empty(); }
    /// `up` counted per server in worker `worker`'s meters when metrics are on; `up` itself
    /// otherwise.
    upstream::UpstreamPtr meter(upstream::UpstreamPtr up, unsigned worker = 0);
    /// Runs a function on a worker's loop thread and returns once it has run there.
    using Bridge = std::function<void(const std::function<void()>&)>;
    /// Puts the observers on worker `worker`'s pipeline and registers its counters, read at
    /// every scrape through `bridge` (on the worker's thread, while the serving loop waits).
    /// `cache`: the shared cache's counters, given by one worker only (else null). Call once
    /// per worker, after its listeners exist (they must outlive this object or be cleared
    /// from it with stop()).
    Status attach(unsigned worker, uv_loop_t* loop, pipeline::Pipeline& pipeline,
                  const cache::Cache* cache, const std::vector<io::ListenerPtr>& listeners,
                  Bridge bridge);
    /// Starts the /metrics server; the ready-file line ("metrics URL"), "" when off.
    Result<std::string> start_server();
    /// A policy snapshot was put in force: loaded in `seconds` with `warnings` warnings.
    void policy_loaded(const stages::PolicySnapshot& snap, double seconds, bool reload);
    void policy_reload_failed() { ++policy_.reloads_failed; }
    /// Stops serving /metrics (at shutdown, before listeners go).
    void stop();

private:
    struct Loop {
        telemetry::MetricsObserver metrics;
        telemetry::UpstreamMetrics upstreams;
        std::unique_ptr<telemetry::DnstapObserver> dnstap;
    };

    Telemetry(uv_loop_t* loop, const core::Clock& clock)
        : loop_(loop), clock_(clock), registry_(loop, kVersion) {}
    Loop& loop_of(unsigned worker);

    static constexpr const char* kVersion = "0.1.0";
    uv_loop_t* loop_;
    const core::Clock& clock_;
    std::string metrics_url_;
    telemetry::MetricsRegistry registry_;
    telemetry::PolicyStats policy_;
    std::unique_ptr<telemetry::DnstapWriter> dnstap_;
    std::string identity_;
    std::vector<std::unique_ptr<Loop>> loops_; // one per worker, by index
    std::unique_ptr<telemetry::MetricsServer> server_;
};

} // namespace resolver::runtime
