// SPDX-License-Identifier: MIT
#pragma once
#include <cstdint>
#include <span>

#include "resolver/cache/cache.hpp"
#include "resolver/core/clock.hpp"
#include "resolver/core/rng.hpp"
#include "resolver/stages/decision_cache.hpp"
#include "resolver/stages/resent_answers.hpp"
#include "resolver/stages/query_context.hpp"

namespace resolver::stages {

struct StageConfig {
    std::uint16_t udp_payload = 1232; // what we advertise in OPT (DNS flag day 2020)
};

/// What the stages read besides the query. The driver owns every pointee; the runner only
/// borrows them, on the driver's thread.
struct Environment {
    PolicySnapshotPtr policy = empty_policy(); // pinned by each query at start()
    cache::Cache* cache = nullptr;             // null: no cache (explain, tests)
    DecisionCache* decisions = nullptr;        // null: evaluate every query (explain, tests)
    StageConfig config;
    const core::Clock* clock = nullptr;     // never null once the runner runs
    core::Rng* rng = nullptr;               // never null once the runner runs
    policy::EvalScratch* scratch = nullptr; // reused working memory; null: allocate per query
    bool trace = false; // record every rule's verdict (explain); costs time on the hot path
    /// Answers last sent for cache hits, sent again to the same query (stages::ResentAnswers);
    /// null: every answer is built. Only where nothing renders the answer's message (no
    /// query log).
    ResentAnswers* resent = nullptr;
    /// A query's wall-clock arrival is derived from its steady one (core::WallFromSteady):
    /// the live pipeline on the system clock; never with a hand-set clock.
    bool wall_from_steady = false;
};

/// What the runner needs next.
enum class Step : std::uint8_t {
    NeedUpstream, // send ctx.upstream_request and call resume() with the outcome
    Done,         // ctx is finished: ctx.disposition says whether ctx.wire_out is sent
};

/// Gateway's phases for one query, in their order, with no event loop and no I/O:
///
///   decode -> attribute -> pre-resolution rules -> route -> cache -> (upstream) ->
///   post-resolution rules -> answer (flags, DNSSEC, TTL caps, EDE) -> finish (serialize)
///
/// The live pipeline, `explain`, log replay and the stages tests all drive this class, so
/// what `explain` prints is what the resolver sends. The runner holds no per-query state:
/// everything lives in the QueryContext; one runner serves every query of its thread.
/// Synchronous: both calls return at once.
class StageRunner {
public:
    explicit StageRunner(Environment env) : env_(std::move(env)) {}

    /// Runs `ctx` from its first byte. `ctx.id`, `transport` and `query_size` are the
    /// driver's; received_at/received_wall are set here from the clock.
    Step start(QueryContext& ctx, std::span<const std::uint8_t> wire);
    /// Continues after the upstream exchange asked for (an answer or why there is none).
    Step resume(QueryContext& ctx, Result<UpstreamAnswer> answer);

    [[nodiscard]] Environment& env() noexcept { return env_; }
    [[nodiscard]] const Environment& env() const noexcept { return env_; }

private:
    Step continue_after_decode(QueryContext& ctx, std::span<const std::uint8_t> wire);
    Step ask_upstream(QueryContext& ctx, UpstreamRequest::Purpose purpose,
                      const wire::Question& question);
    Step after_upstream_truth(QueryContext& ctx);
    Step finish(QueryContext& ctx);

    Environment env_;
    core::WallFromSteady wall_;
};

/// How long a client may keep `response` (DoH `cache-control: max-age`, RFC 8484 §5.1):
/// the smallest answer TTL; for NXDOMAIN/NODATA min(SOA TTL, SOA MINIMUM) from the
/// authority section (RFC 2308 §5); 0 when neither exists.
std::uint32_t freshness_lifetime(const wire::Message& response);

/// Why a datagram is not worth a QueryContext: nullopt when it should be run. Cheap (reads
/// the header only, allocates nothing), so a burst of garbage costs next to nothing:
/// fewer than 12 bytes, or a response (QR=1; answering one makes packet loops between two
/// resolvers, so NSD, Unbound, dnsdist, Knot Resolver and PowerDNS all drop them silently).
std::optional<std::string_view> screen(std::span<const std::uint8_t> wire) noexcept;

} // namespace resolver::stages
