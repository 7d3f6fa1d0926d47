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
};

/// Counters for metrics and for tests; bad input is counted, never fatal.
struct Counters {
    std::uint64_t received = 0;
    std::uint64_t answered = 0;
    std::uint64_t dropped = 0;      // not even a header: nothing to answer
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
///   decode -> attribute -> pre-policy -> route -> cache -> upstream (async) -> post-policy -> finish
///
/// Runs on one loop thread; handle() and every completion happen on that thread.
class Pipeline final : public io::QueryHandler {
public:
    Pipeline(PipelineConfig config, upstream::Upstream& default_upstream, cache::Cache& cache,
             log::QueryLog* log);
    ~Pipeline() override;

    void handle(std::vector<std::uint8_t> wire, io::TransportInfo info, io::ReplyFn reply) override;

    [[nodiscard]] std::size_t in_flight() const { return in_flight_.size(); }
    [[nodiscard]] const Counters& counters() const { return counters_; }

private:
    Verdict decode(QueryContext& ctx, const std::vector<std::uint8_t>& wire);
    Verdict cache_lookup(QueryContext& ctx);
    void send_upstream(QueryContext& ctx);
    void on_upstream(QueryId id, Result<upstream::Exchange> result);
    void after_answer(QueryContext& ctx);
    void finish(QueryContext& ctx, Verdict verdict);

    void answer_error(QueryContext& ctx, std::uint16_t rcode);
    std::size_t response_limit(const QueryContext& ctx) const;
    void log_query(const QueryContext& ctx);

    PipelineConfig config_;
    upstream::Upstream& default_upstream_;
    cache::Cache& cache_;
    log::QueryLog* log_;
    std::mt19937 rng_{std::random_device{}()};
    QueryId next_id_ = 1;
    std::unordered_map<QueryId, QueryContextPtr> in_flight_;
    Counters counters_;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

} // namespace resolver::pipeline
