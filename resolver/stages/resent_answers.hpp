// SPDX-License-Identifier: MIT
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <unordered_map>
#include <vector>

#include "resolver/cache/cache.hpp"
#include "resolver/stages/decision_cache.hpp"
#include "resolver/stages/query_context.hpp"

namespace resolver::stages {

/// Every input of a Do53 answer besides time and the cache: the policy snapshot, the
/// transport (UDP or TCP: the size limit), the client's, local and private on-ramp addresses
/// (location, geo, identity by address, ECS) and the query's bytes after its ID (name and its
/// case, type, class, flags, every EDNS field and option). Built per query without
/// allocating; `query` views the datagram.
struct ResendKey {
    /// No padding (asserted): compared and hashed as bytes.
    struct Fixed {
        std::uint64_t generation = 0;
        const void* set = nullptr;
        std::array<std::uint8_t, 16> src{}, dst{}, src_internal{}; // zero when absent
        std::uint8_t protocol = 0;
        std::uint8_t src_family = 0, dst_family = 0, src_internal_family = 0; // 0, 4 or 6
        std::array<std::uint8_t, 4> zero{};
        friend bool operator==(const Fixed& a, const Fixed& b) noexcept;
    };
    Fixed fixed;
    std::span<const std::uint8_t> query;
    std::uint64_t hash = 0;
};

/// The answers last sent for cache hits, by everything they were built from (ResendKey), so
/// that a repeated query gets the same bytes again with its own ID without being decoded,
/// attributed, evaluated or serialized (the packet cache of dnsdist, keyed on the policy's
/// inputs too). Sound because a cache hit's bytes are a function of the key, the decision's
/// validity in time and the cache entry's serial and age, and each is checked on use: the
/// decision's `valid_until`, and Cache::still_serves (which counts the hit as a lookup
/// would). Only the live pipeline without a query log uses it (the log renders the message
/// a resent answer never builds); only Do53, whose location depends on nothing outside the
/// key. Bounded: at `max_entries` the table starts afresh. One per worker loop.
class ResentAnswers {
public:
    explicit ResentAnswers(std::size_t max_entries = 20000) : max_entries_(max_entries) {}

    /// Queries and answers larger than this are not kept (a TCP query may have 65,535 octets,
    /// and it is held as the key): 20,000 entries then hold at most about 25 MB.
    static constexpr std::size_t kMaxBytes = 512;

    /// The query `wire` of a started context (transport, policy and arrival set) answered
    /// again: true with ctx.wire_out, rcode, min_ttl, truncated, source, age, serial, the
    /// verdict and the location set as the full path would have set them (not `decision`:
    /// nothing after the answer reads it). False changes nothing.
    bool answer(QueryContext& ctx, std::span<const std::uint8_t> wire, cache::Cache& cache);
    /// Whether remember() would keep what this finished query sent: a plain answer from the
    /// cache, over Do53, no larger than kMaxBytes. Cheap: asked before the cache key is built.
    [[nodiscard]] bool keeps(const QueryContext& ctx) const noexcept;
    /// Keeps what a finished query sent when keeps(ctx), under the key of `wire` and with the
    /// cache key it was read under.
    void remember(const QueryContext& ctx, std::span<const std::uint8_t> wire,
                  cache::CacheKey cache_key);
    void clear() { table_.clear(); }

    struct Stats {
        std::uint64_t resent = 0, kept = 0;
    };
    [[nodiscard]] const Stats& stats() const noexcept { return stats_; }
    [[nodiscard]] std::size_t size() const noexcept { return table_.size(); }

private:
    struct StoredKey {
        explicit StoredKey(const ResendKey& k)
            : fixed(k.fixed), query(k.query.begin(), k.query.end()), hash(k.hash) {}
        ResendKey::Fixed fixed;
        std::vector<std::uint8_t> query;
        std::uint64_t hash;
    };
    struct Sent {
        DecisionPtr decision;
        std::shared_ptr<const policy::Evaluation> evaluation; // the final verdict
        attribution::LocationMatch location;
        cache::CacheKey cache_key;
        std::vector<std::uint8_t> answer; // as sent, its ID included
        std::uint64_t serial = 0;         // the cache entry it was built from
        std::uint32_t age_s = 0;          // that entry's age then
        std::uint32_t min_ttl = 0;
        std::uint16_t rcode = 0;
        bool truncated = false;
    };
    struct KeyHash {
        using is_transparent = void;
        std::size_t operator()(const StoredKey& k) const noexcept { return k.hash; }
        std::size_t operator()(const ResendKey& k) const noexcept { return k.hash; }
    };
    struct KeyEqual {
        using is_transparent = void;
        bool operator()(const StoredKey& a, const StoredKey& b) const noexcept;
        bool operator()(const ResendKey& a, const StoredKey& b) const noexcept;
        bool operator()(const StoredKey& a, const ResendKey& b) const noexcept {
            return (*this)(b, a);
        }
    };

    /// The key of `wire` on ctx's transport and policy; nullopt for what is never kept.
    static std::optional<ResendKey> key_of(const QueryContext& ctx,
                                           std::span<const std::uint8_t> wire) noexcept;

    std::size_t max_entries_;
    std::unordered_map<StoredKey, Sent, KeyHash, KeyEqual> table_;
    Stats stats_;
};

} // namespace resolver::stages
