// SPDX-License-Identifier: MIT
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

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

/// An address as a key's fixed-size field: its 16 octets and family (4 or 6); left zero when
/// absent.
inline void put_ip(const std::optional<net::IpAddr>& ip, std::array<std::uint8_t, 16>& bytes,
                   std::uint8_t& family) noexcept {
    if (ip) {
        bytes = ip->bytes;
        family = ip->v4 ? 4 : 6;
    }
}

/// Everything a verdict can depend on, as fixed-size values and views of the query's texts:
/// built per lookup without allocating. Two keys are equal only when every field and every
/// text is equal; `hash` only picks the bucket, so a collision is a miss, never a false hit.
struct DecisionKey {
    /// The fixed-size part: no padding (asserted), so equality is one comparison of its bytes.
    struct Fixed {
        std::uint64_t generation = 0;
        const void* set = nullptr;                                 // the snapshot's rule set
        const void* location = nullptr;                            // attribution::Location
        std::array<std::uint8_t, 16> src{}, dst{}, src_internal{}; // all zero when absent
        std::uint16_t qtype = 0, qclass = 0;
        std::uint8_t flags = 0; // EDNS present, DO, CD, AD, EDNS 65050 categories present
        std::uint8_t src_family = 0, dst_family = 0, src_internal_family = 0; // 0 absent, 4, 6
        friend bool operator==(const Fixed& a, const Fixed& b) noexcept;
    };
    Fixed fixed;
    std::string_view qname;
    std::string_view doh_subdomain;
    std::string_view identity_token;
    std::span<const std::int64_t> categories; // EDNS 65050 (a flag tells an absent list)
    std::uint64_t hash = 0;

    /// The key of a decoded and attributed query; views point into ctx. `hash` is left 0.
    static DecisionKey of(const QueryContext& ctx);
};

/// The hash of every field of a key: one pass over the fixed part and each text, 16 bytes per
/// wyhash-style folded multiply.
std::uint64_t decision_key_hash(const DecisionKey& key) noexcept;

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
    using Hasher = std::uint64_t (*)(const DecisionKey&) noexcept;
    /// `hasher` is for tests only (e.g. one that makes every key collide).
    explicit DecisionCache(std::size_t max_entries = 100000, Hasher hasher = &decision_key_hash)
        : max_entries_(max_entries), hasher_(hasher) {}

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
    /// A DecisionKey that owns its texts, as held in the tables.
    struct StoredKey {
        explicit StoredKey(const DecisionKey& k);
        DecisionKey::Fixed fixed;
        std::string qname, doh_subdomain, identity_token;
        std::vector<std::int64_t> categories;
        std::uint64_t hash;
    };
    /// Both hash functors read the hash computed once per lookup (DecisionCache::hasher_).
    struct KeyHash {
        using is_transparent = void;
        std::size_t operator()(const StoredKey& k) const noexcept { return k.hash; }
        std::size_t operator()(const DecisionKey& k) const noexcept { return k.hash; }
    };
    struct KeyEqual {
        using is_transparent = void;
        bool operator()(const StoredKey& a, const StoredKey& b) const noexcept;
        bool operator()(const DecisionKey& a, const StoredKey& b) const noexcept;
        bool operator()(const StoredKey& a, const DecisionKey& b) const noexcept {
            return (*this)(b, a);
        }
    };
    using Table = std::unordered_map<StoredKey, DecisionPtr, KeyHash, KeyEqual>;

    DecisionKey key_of(const QueryContext& ctx) const;

    std::size_t max_entries_;
    Hasher hasher_;
    Table current_;
    Table older_;
    Stats stats_;
};

} // namespace resolver::stages
