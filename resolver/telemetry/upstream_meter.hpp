// SPDX-License-Identifier: MIT
#pragma once
#include <deque>
#include <map>
#include <string>

#include "resolver/core/clock.hpp"
#include "resolver/telemetry/scrape.hpp"
#include "resolver/upstream/upstream.hpp"

namespace resolver::telemetry {

/// One loop's per-server upstream counters. Entries are never removed (routes' upstreams
/// live as long as the pipeline), so MeteredUpstream may keep a pointer to its entry.
class UpstreamMetrics {
public:
    /// The entry for `url`, created on first use; stable address.
    UpstreamStats& entry(const std::string& url) { return by_url_[url]; }
    [[nodiscard]] const std::map<std::string, UpstreamStats>& all() const { return by_url_; }

private:
    std::map<std::string, UpstreamStats> by_url_; // std::map: references stay valid
};

/// A decorator that counts one server's exchanges (queries, failures by kind, in flight,
/// send-to-answer time) into an UpstreamMetrics entry, then completes as the inner upstream
/// did. Wraps each member of a failover group, so failures are per server. Loop-thread only,
/// like every Upstream; `clock` and `metrics` must outlive it.
class MeteredUpstream final : public upstream::Upstream {
public:
    MeteredUpstream(upstream::UpstreamPtr inner, UpstreamMetrics& metrics,
                    const core::Clock& clock);

    void send(std::vector<std::uint8_t> query, upstream::Completion done) override;
    [[nodiscard]] const std::string& url() const override { return inner_->url(); }
    [[nodiscard]] bool keeps_truncated() const override { return inner_->keeps_truncated(); }
    void shutdown() override { inner_->shutdown(); }

private:
    upstream::UpstreamPtr inner_;
    UpstreamStats& stats_;
    const core::Clock& clock_;
};

} // namespace resolver::telemetry
