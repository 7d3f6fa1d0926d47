// SPDX-License-Identifier: MIT
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <random>
#include <unordered_map>

#include <uv.h>

#include "resolver/cache/cache.hpp"
#include "resolver/io/transport.hpp"
#include "resolver/log/query_log.hpp"
#include "resolver/pipeline/query_context.hpp"
#include "resolver/upstream/upstream.hpp"

namespace resolver::pipeline {

struct PipelineConfig {
    std::uint16_t udp_payload = 1232; // what we advertise in OPT (DNS flag day 2020)
    bool cache_enabled = true;
    upstream::UpstreamOptions upstream_options; // for upstreams created by resolver policies
};

/// Makes the upstream for a resolver-policy route from Do53 URLs (udp://IP:PORT, in the
/// rule's order, failing over). Called once per distinct route; the pipeline keeps it.
using UpstreamMaker =
    std::function<Result<upstream::UpstreamPtr>(const std::vector<std::string>& urls)>;

/// Counters for metrics and for tests; bad input is counted, never fatal.
struct Counters {
    std::uint64_t received = 0;
    std::uint64_t answered = 0;
    std::uint64_t dropped = 0; // not even a header: nothing to answer
    std::uint64_t formerr = 0;
    std::uint64_t notimp = 0;
    std::uint64_t servfail = 0;
    std::uint64_t cache_hits = 0;
    std::uint64_t upstream_errors = 0;
};

/// The query path, in Gateway's phase order. The order of stages is written once, in
/// handle() and on_upstream(); stages never call each other; every path, drops included,
/// ends in finish(), which replies once and logs once.
///
///   decode -> attribute -> pre-policy -> route -> cache -> upstream (async) -> post-policy ->
///   finish
///
/// Runs on one loop thread; handle() and every completion happen on that thread.
class Pipeline final : public io::QueryHandler {
public:
    Pipeline(PipelineConfig config, upstream::Upstream& default_upstream, cache::Cache& cache,
             log::QueryLog* log, UpstreamMaker make_upstream = {});

    /// Installs a new policy snapshot; queries already in flight keep the one they pinned.
    void set_policy(PolicySnapshotPtr policy) { policy_ = std::move(policy); }
    [[nodiscard]] const PolicySnapshotPtr& policy() const { return policy_; }
    ~Pipeline() override;

    void handle(std::vector<std::uint8_t> wire, io::TransportInfo info, io::ReplyFn reply) override;

    [[nodiscard]] std::size_t in_flight() const { return in_flight_.size(); }
    [[nodiscard]] const Counters& counters() const { return counters_; }

private:
    Verdict decode(QueryContext& ctx, const std::vector<std::uint8_t>& wire);
    void attribute(QueryContext& ctx);
    Verdict pre_policy(QueryContext& ctx);
    Verdict route(QueryContext& ctx);
    Verdict cache_lookup(QueryContext& ctx);
    void send_upstream(QueryContext& ctx, const wire::Question& question);
    Verdict post_policy(QueryContext& ctx);
    policy::QueryFacts facts(const QueryContext& ctx) const;
    upstream::Upstream* upstream_for(QueryContext& ctx);
    void on_upstream(QueryId id, Result<upstream::Exchange> result);
    void after_answer(QueryContext& ctx);
    /// Applies the maximum-TTL cap in force for ctx's location to an upstream answer.
    void cap_ttls(QueryContext& ctx, wire::Message& r) const;
    void finish(QueryContext& ctx, Verdict verdict);

    void answer_error(QueryContext& ctx, std::uint16_t rcode);
    std::size_t response_limit(const QueryContext& ctx) const;
    void log_query(const QueryContext& ctx);

    PipelineConfig config_;
    upstream::Upstream& default_upstream_;
    cache::Cache& cache_;
    log::QueryLog* log_;
    UpstreamMaker make_upstream_;
    policy::EvalScratch eval_scratch_; // the policy engine's working memory, reused per query
    PolicySnapshotPtr policy_;
    std::unordered_map<std::string, upstream::UpstreamPtr> route_upstreams_; // by Route::key()
    std::mt19937 rng_{std::random_device{}()};
    QueryId next_id_ = 1;
    std::unordered_map<QueryId, QueryContextPtr> in_flight_;
    Counters counters_;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

} // namespace resolver::pipeline
