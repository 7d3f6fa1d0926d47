// SPDX-License-Identifier: MIT
#include "resolver/telemetry/query_metrics.hpp"

namespace resolver::telemetry {

FormErrReason formerr_reason(const stages::QueryContext& ctx) {
    if (!ctx.query) {
        return FormErrReason::Unparseable;
    }
    if (ctx.query->question.size() != 1) {
        return FormErrReason::QdCount;
    }
    if (ctx.source == stages::AnswerSource::Upstream || ctx.source == stages::AnswerSource::Cache) {
        return FormErrReason::Upstream;
    }
    return FormErrReason::Other;
}

void MetricsObserver::on_client_response(const stages::QueryContext& ctx,
                                         std::span<const std::uint8_t> /*wire*/) {
    const auto t = static_cast<std::size_t>(ctx.transport.protocol);
    if (ctx.disposition == stages::Disposition::Answered) {
        const std::uint16_t rc = ctx.rcode;
        ++stats_.answered[t][rc < kRcodeSlots ? rc : kRcodeSlots];
        if (rc == wire::rcode::FormErr) {
            ++stats_.formerr[static_cast<std::size_t>(formerr_reason(ctx))];
        }
    } else {
        ++stats_.dropped[t];
    }
    if (ctx.evaluation) {
        const auto d = static_cast<std::size_t>(ctx.evaluation->decision);
        ++stats_.decisions[d < kDecisionCount ? d : 0];
    }
    const std::string_view location =
        ctx.location.location ? std::string_view(ctx.location.location->name) : "";
    if (auto it = stats_.locations.find(location); it != stats_.locations.end()) {
        ++it->second;
    } else {
        stats_.locations.emplace(std::string(location), 1);
    }
    stats_.duration[t].observe(
        std::chrono::duration<double>(ctx.finished_at - ctx.received_at).count());
}

} // namespace resolver::telemetry
