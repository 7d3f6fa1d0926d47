// SPDX-License-Identifier: MIT
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "resolver/policy/evaluate.hpp"
#include "resolver/stages/query_context.hpp"

namespace resolver::stages {

/// The policy engine's verdicts for one kind of query, kept so that a repeated query skips
/// both phases: the pre-resolution evaluation (with its route), and the post-resolution one
/// for one particular cached upstream answer.
struct Decision {
    std::shared_ptr<const policy::Evaluation> pre;
    /// Post-resolution verdict on the cached upstream answer with this serial
    /// (cache::CacheHit::serial); reused only while the cache serves that same answer.
    std::uint64_t upstream_serial = 0;
    std::shared_ptr<const policy::Evaluation> post;
    /// Unix seconds from which the decision may differ: the next minute when a rule has a
    /// schedule (schedules have minute resolution), or the next rule expiry.
    std::int64_t valid_until = 0;
};
using DecisionPtr = std::shared_ptr<Decision>;

/// Decisions keyed on everything a verdict can depend on: the policy generation, the
/// location, source, destination and private on-ramp source address (source geo, identity
/// by address, dns.src_internal_ip), the query
/// name, type and class, DO/CD/EDNS, the DoH subdomain, the identity token and the EDNS 65050
/// request categories. Time enters through Decision::valid_until; a reload changes the
/// generation, so old decisions are never found again.
///
/// Bounded: when `max_entries` decisions are held, the newer half is kept as the older
/// generation and a fresh table starts (an LRU approximation with no per-hit bookkeeping).
/// One per worker loop; not thread-safe. Lookups do not allocate.
class DecisionCache {
public:
    explicit DecisionCache(std::size_t max_entries = 100000) : max_entries_(max_entries) {}

    /// The valid decision for ctx (decoded and attributed), or null.
    DecisionPtr find(const QueryContext& ctx, std::int64_t now_s);
    /// Stores a fresh decision for ctx, computing how long it stays valid from the rules.
    DecisionPtr insert(const QueryContext& ctx, std::shared_ptr<const policy::Evaluation> pre,
                       std::int64_t now_s);

    struct Stats {
        std::uint64_t hits = 0, misses = 0, expired = 0;
    };
    [[nodiscard]] const Stats& stats() const noexcept { return stats_; }
    [[nodiscard]] std::size_t size() const noexcept { return current_.size() + older_.size(); }

private:
    using Table = std::unordered_map<std::string, DecisionPtr>;
    const std::string& key_of(const QueryContext& ctx);

    std::size_t max_entries_;
    Table current_;
    Table older_;
    std::string key_; // reused for every lookup
    Stats stats_;
};

} // namespace resolver::stages
