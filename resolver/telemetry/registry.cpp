// SPDX-License-Identifier: MIT
#include "resolver/telemetry/registry.hpp"

namespace resolver::telemetry {

Status MetricsRegistry::add(uv_loop_t* loop, Source source) {
    if (loop != loop_) {
        return fail(Errc::Internal, "metrics: a counter source on another loop than the one "
                                    "serving /metrics needs a cross-loop bridge");
    }
    sources_.push_back(std::move(source));
    return ok();
}

Scrape MetricsRegistry::collect() const {
    Scrape s;
    for (const auto& source : sources_) {
        source(s);
    }
    return s;
}

std::string MetricsRegistry::render() const {
    return telemetry::render(collect(), version_);
}

} // namespace resolver::telemetry
