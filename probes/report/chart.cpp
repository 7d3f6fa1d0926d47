// SPDX-License-Identifier: MIT
// Latency figures for charts (document.hpp): percentiles and per-target sample collection.
#include <algorithm>
#include <cmath>

#include "probes/report/document.hpp"

namespace probes::report {

double percentile(std::vector<double> values, double p) {
    if (values.empty()) {
        return 0;
    }
    std::sort(values.begin(), values.end());
    const auto rank =
        static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(values.size())));
    return values[std::clamp<std::size_t>(rank, 1, values.size()) - 1];
}

LatencyChart::Figure LatencyChart::Figure::of(const std::vector<double>& samples_ms) {
    return {percentile(samples_ms, 50), percentile(samples_ms, 95), samples_ms.size()};
}

LatencySamples::Samples& LatencySamples::row(const std::string& target,
                                             const std::string& transport) {
    auto it = std::find_if(rows_.begin(), rows_.end(), [&](const Samples& s) {
        return s.target == target && s.transport == transport;
    });
    if (it != rows_.end()) {
        return *it;
    }
    rows_.push_back({target, transport, {}, {}});
    return rows_.back();
}

void LatencySamples::add_target(const std::string& target, const std::string& transport) {
    row(target, transport);
}

void LatencySamples::add(const std::string& target, const std::string& transport, double connect_ms,
                         double query_ms, bool reused) {
    auto& r = row(target, transport);
    if (!reused && connect_ms > 0) {
        r.connect.push_back(connect_ms);
    }
    r.query.push_back(query_ms);
}

LatencyChart LatencySamples::chart(std::string caption) const {
    LatencyChart c;
    c.caption = std::move(caption);
    for (const auto& s : rows_) {
        c.rows.push_back({s.target, s.transport, LatencyChart::Figure::of(s.connect),
                          LatencyChart::Figure::of(s.query)});
    }
    return c;
}

} // namespace probes::report
