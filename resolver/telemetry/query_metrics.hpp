// SPDX-License-Identifier: MIT
#pragma once
#include "resolver/pipeline/observer.hpp"
#include "resolver/telemetry/scrape.hpp"

namespace resolver::telemetry {

/// Counts finished client queries into one loop's QueryStats: by transport and RCODE, by
/// ResolverDecision and location, FORMERR by reason, and the time to answer. One per loop,
/// written and read on that loop only (plain integers, no atomics on the hot path).
class MetricsObserver final : public pipeline::QueryObserver {
public:
    void on_client_query(const stages::QueryContext&, std::span<const std::uint8_t>) override {}
    void on_client_response(const stages::QueryContext& ctx,
                            std::span<const std::uint8_t> wire) override;
    // Upstream exchanges are counted per server by MeteredUpstream, which sees failover.
    void on_forwarder_query(const stages::QueryContext&, const upstream::Upstream&) override {}
    void on_forwarder_response(const stages::QueryContext&, const upstream::Upstream&,
                               const Result<upstream::Exchange>&,
                               std::chrono::steady_clock::time_point) override {}

    [[nodiscard]] const QueryStats& stats() const { return stats_; }

private:
    QueryStats stats_;
};

/// The FORMERR reason of a finished query that was answered FORMERR.
FormErrReason formerr_reason(const stages::QueryContext& ctx);

} // namespace resolver::telemetry
