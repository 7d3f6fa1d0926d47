// SPDX-License-Identifier: MIT
#pragma once
#include <chrono>
#include <cstdint>
#include <span>

#include "resolver/core/result.hpp"
#include "resolver/stages/query_context.hpp"
#include "resolver/upstream/upstream.hpp"

namespace resolver::pipeline {

/// Something that watches queries go by without changing them: the Prometheus counters and
/// the dnstap writer are two of these (resolver/telemetry/). The pipeline calls every
/// observer it holds, in order, on its own loop thread, synchronously; an observer must not
/// block, must not call back into the pipeline and must not keep the references it is
/// given past the call (copy what it needs). Owned by runtime/, which outlives the pipeline.
/// Queries dropped by the screen (shorter than a header, QR=1) never reach an observer: the
/// pipeline's Counters count them.
class QueryObserver {
public:
    virtual ~QueryObserver() = default;

    /// A query was received and decoded (`ctx.query` may still be empty when it was not
    /// parseable). `wire` is the message exactly as received.
    virtual void on_client_query(const stages::QueryContext& ctx,
                                 std::span<const std::uint8_t> wire) = 0;
    /// The query is finished (`ctx.disposition` says how) and `wire` is what is sent back:
    /// empty when the query is dropped.
    virtual void on_client_response(const stages::QueryContext& ctx,
                                    std::span<const std::uint8_t> wire) = 0;
    /// `ctx.upstream_request` is about to be sent to `upstream`.
    virtual void on_forwarder_query(const stages::QueryContext& ctx,
                                    const upstream::Upstream& upstream) = 0;
    /// The upstream exchange of `ctx.upstream_request`, sent at `sent_at`, completed.
    virtual void on_forwarder_response(const stages::QueryContext& ctx,
                                       const upstream::Upstream& upstream,
                                       const Result<upstream::Exchange>& result,
                                       std::chrono::steady_clock::time_point sent_at) = 0;
};

} // namespace resolver::pipeline
