// SPDX-License-Identifier: MIT
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>

#include "resolver/cache/cache.hpp"
#include "resolver/io/transport.hpp"
#include "resolver/log/query_log.hpp"
#include "resolver/pipeline/observer.hpp"
#include "resolver/stages/runner.hpp"
#include "resolver/upstream/upstream.hpp"

namespace resolver::pipeline {

struct PipelineConfig {
    stages::StageConfig stages;
    bool cache_enabled = true;
    /// Queries waiting for an upstream at once, over every upstream; beyond it a query gets
    /// SERVFAIL with an EDE naming this limit at once (a dead upstream under a burst must not
    /// grow memory without bound).
    std::size_t max_waiting = 10000;
    /// The first query ID (QueryID's low half in the log; LabQueryID). Worker loops start
    /// theirs at worker << 56, so IDs stay unique across the process's pipelines.
    stages::QueryId first_query_id = 1;
};

/// Makes the upstream for a resolver-policy route from the URLs the stages chose (in order,
/// failing over; `prefer_fastest`: the fastest member first, upstream::GroupLimits). Called
/// once per distinct route key; the pipeline keeps it.
using UpstreamMaker = std::function<Result<upstream::UpstreamPtr>(
    const std::vector<std::string>& urls, bool prefer_fastest)>;

/// Counters for metrics and for tests; bad input is counted, never fatal.
struct Counters {
    std::uint64_t received = 0;
    std::uint64_t answered = 0;
    std::uint64_t dropped = 0;          // not worth an answer (screen) or dropped by a stage
    std::uint64_t dropped_short = 0;    // ... of which: shorter than a header
    std::uint64_t dropped_response = 0; // ... of which: QR=1 (a response sent to us)
    std::uint64_t formerr = 0;
    std::uint64_t notimp = 0;
    std::uint64_t refused = 0;
    std::uint64_t servfail = 0;
    std::uint64_t cache_hits = 0;
    std::uint64_t resent = 0; // ... of which: the bytes last sent again (stages::ResentAnswers)
    std::uint64_t upstream_errors = 0;
    std::uint64_t overloaded = 0; // refused by PipelineConfig::max_waiting
};

/// The asynchronous plumbing around the stage runner (stages/ knows Gateway's phases): the
/// in-flight table, dispatch of the runner's upstream requests, the reply and the log line.
/// Every query the listeners hand in is replied to exactly once; every query that got past
/// the screen is logged exactly once. Runs on one loop thread; handle() and every upstream
/// completion happen on that thread.
class Pipeline final : public io::QueryHandler {
public:
    /// Every reference must outlive the pipeline.
    Pipeline(PipelineConfig config, upstream::Upstream& default_upstream, cache::Cache& cache,
             log::QueryLog* log, UpstreamMaker make_upstream, const core::Clock& clock,
             core::Rng& rng);
    ~Pipeline() override;

    /// Installs a new policy snapshot; queries already in flight keep the one they pinned.
    void set_policy(stages::PolicySnapshotPtr policy) {
        runner_.env().policy = std::move(policy);
        resent_.clear(); // answers of the old snapshot are never found again: free them now
    }
    [[nodiscard]] const stages::PolicySnapshotPtr& policy() const { return runner_.env().policy; }

    void handle(std::span<const std::uint8_t> wire, io::TransportInfo&& info,
                io::ReplyFn reply) override;
    void reclaim(std::vector<std::uint8_t> sent) override;

    /// Adds an observer (metrics, dnstap); it must outlive the pipeline. Not during a query.
    void add_observer(QueryObserver& observer) { observers_.push_back(&observer); }

    [[nodiscard]] std::size_t in_flight() const { return in_flight_.size(); }
    /// in_flight() for another thread (the main thread's shutdown message sums the workers):
    /// a copy the loop thread publishes on every change.
    [[nodiscard]] std::size_t in_flight_published() const {
        return in_flight_published_.load(std::memory_order_relaxed);
    }
    /// Queries with an upstream request out (what PipelineConfig::max_waiting caps).
    [[nodiscard]] std::size_t waiting() const { return waiting_; }
    [[nodiscard]] const Counters& counters() const { return counters_; }

private:
    struct InFlight { // recycle() resets every member
        stages::QueryContext ctx;
        io::ReplyFn reply;
        upstream::Upstream* upstream = nullptr; // the exchange out, for observers
        std::chrono::steady_clock::time_point sent_at{};
    };
    using InFlightTable = std::unordered_map<stages::QueryId, std::unique_ptr<InFlight>>;

    void advance(InFlight& q, stages::Step step);
    void dispatch(InFlight& q);
    void on_upstream(stages::QueryId id, Result<upstream::Exchange> result);
    upstream::Upstream* upstream_for(const stages::QueryContext& ctx);
    /// Counts, answers and logs a finished query.
    void complete(InFlight& q);
    /// complete(), then the query leaves the table of queries in flight.
    void finish(InFlight& q);
    /// Resets a finished query's node and keeps it in spare_ (while fewer than kSpareNodes).
    void recycle(InFlightTable::node_type node);
    void count(const stages::QueryContext& ctx);

    PipelineConfig config_;
    upstream::Upstream& default_upstream_;
    log::QueryLog* log_;
    UpstreamMaker make_upstream_;
    policy::EvalScratch eval_scratch_; // the policy engine's working memory, reused per query
    stages::DecisionCache decisions_;
    stages::ResentAnswers resent_;
    stages::StageRunner runner_;
    std::unordered_map<std::string, upstream::UpstreamPtr> route_upstreams_; // by Route::key()
    stages::QueryId next_id_;
    InFlightTable in_flight_;
    /// Finished queries' table nodes, each with its (reset) InFlight, reused by the next
    /// queries: a query costs no allocation for its context or its table entry. At most
    /// kSpareNodes are kept (what a burst needed, not more).
    std::vector<InFlightTable::node_type> spare_;
    static constexpr std::size_t kSpareNodes = 1024;
    /// Sent answers' buffers given back by the listeners (reclaim()), handed to the next
    /// queries as the memory their answer is serialized into; at most kSpareBuffers kept.
    std::vector<std::vector<std::uint8_t>> spare_wire_;
    static constexpr std::size_t kSpareBuffers = 256;
    std::atomic<std::size_t> in_flight_published_{0}; // in_flight_.size(), for other threads
    std::size_t waiting_ = 0;                         // queries with an upstream request out
    Counters counters_;
    std::vector<QueryObserver*> observers_; // not owned
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

} // namespace resolver::pipeline
