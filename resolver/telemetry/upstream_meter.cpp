// SPDX-License-Identifier: MIT
#include "resolver/telemetry/upstream_meter.hpp"

namespace resolver::telemetry {

MeteredUpstream::MeteredUpstream(upstream::UpstreamPtr inner, UpstreamMetrics& metrics,
                                 const core::Clock& clock)
    : inner_(std::move(inner)), stats_(metrics.entry(inner_->url())), clock_(clock) {}

void MeteredUpstream::send(std::vector<std::uint8_t> query, upstream::Completion done) {
    ++stats_.queries;
    ++stats_.in_flight;
    // The stats entry outlives this upstream (UpstreamMetrics belongs to runtime/), so the
    // completion may count even when it runs during shutdown.
    inner_->send(std::move(query), [&stats = stats_, &clock = clock_, start = clock_.now(),
                                    done = std::move(done)](Result<upstream::Exchange> r) {
        --stats.in_flight;
        if (r) {
            stats.duration.observe(std::chrono::duration<double>(clock.now() - start).count());
        } else if (r.error().code == Errc::UpstreamTimeout) {
            ++stats.timeouts;
        } else {
            ++stats.errors;
        }
        done(std::move(r));
    });
}

} // namespace resolver::telemetry
