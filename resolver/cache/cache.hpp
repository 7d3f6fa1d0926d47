// SPDX-License-Identifier: MIT
#pragma once
#include <chrono>
#include <cstdint>
#include <array>
#include <atomic>
#include <list>
#include <memory>
#include <mutex>
#include <vector>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "resolver/wire/message.hpp"

namespace resolver::cache {

using Clock = std::chrono::steady_clock;

/// What an answer is cached under. The route (which upstream group a resolver policy chose)
/// is part of the key, so locations share the cache unless policy sends them elsewhere.
struct CacheKey {
    std::string qname_lower_wire;
    std::uint16_t qtype = 0;
    std::uint16_t qclass = 0;
    bool dnssec_ok = false;
    bool checking_disabled = false;
    std::string route;

    static CacheKey of(const wire::Question& q, bool dnssec_ok, bool checking_disabled,
                       std::string route);
    bool operator==(const CacheKey&) const = default;
};

/// A CacheKey whose texts live elsewhere (the query, a stack buffer): what a lookup builds,
/// so that a cache hit allocates no key.
struct CacheKeyRef {
    std::string_view qname_lower_wire;
    std::uint16_t qtype = 0;
    std::uint16_t qclass = 0;
    bool dnssec_ok = false;
    bool checking_disabled = false;
    std::string_view route;

    CacheKeyRef() = default;
    CacheKeyRef(const CacheKey& k) // NOLINT(google-explicit-constructor): a view of k
        : qname_lower_wire(k.qname_lower_wire), qtype(k.qtype), qclass(k.qclass),
          dnssec_ok(k.dnssec_ok), checking_disabled(k.checking_disabled), route(k.route) {}
    CacheKeyRef(std::string_view name, std::uint16_t type, std::uint16_t cls, bool d_o, bool cd,
                std::string_view r)
        : qname_lower_wire(name), qtype(type), qclass(cls), dnssec_ok(d_o), checking_disabled(cd),
          route(r) {}
    bool operator==(const CacheKeyRef&) const = default;
};

/// Hashes and compares CacheKey and CacheKeyRef alike (heterogeneous lookup, C++20).
struct CacheKeyHash {
    using is_transparent = void;
    std::size_t operator()(const CacheKeyRef& k) const noexcept;
};
struct CacheKeyEqual {
    using is_transparent = void;
    bool operator()(const CacheKeyRef& a, const CacheKeyRef& b) const noexcept { return a == b; }
};

/// The lower-cased wire form of `q`'s name written into `buf` (a name is at most 255 octets,
/// RFC 1035 §2.3.4): a lookup key without an allocation.
using LoweredName = std::array<char, 255>;
std::string_view lowered_wire(const wire::Name& name, LoweredName& buf) noexcept;

/// A hit: the stored message with TTLs counted down, and how old it is.
struct CacheHit {
    wire::Message message;
    std::uint32_t age_s = 0;
    std::string upstream;     // who gave us the answer originally
    std::uint64_t serial = 0; // which insert stored it: the same answer has the same serial
};

struct CacheStats {
    std::uint64_t hits = 0, misses = 0, inserts = 0, evictions = 0, expired = 0;
};

/// Upstream answers before post-resolution policy, bounded with LRU eviction. Time is passed
/// in, never read, so TTL arithmetic is unit-testable. Thread-safe: worker loops share one
/// cache (so that a repeated query is a hit whichever worker's socket it reached, as on one
/// resolver), split into `shards` independently locked LRUs to keep them from contending.
/// With `one_thread` (one worker loop, nothing else touches it) no lock is taken: two atomic
/// operations less per lookup.
class Cache {
public:
    explicit Cache(std::size_t max_entries = 100000, std::uint32_t max_ttl = 86400,
                   std::uint32_t servfail_ttl = 0, std::size_t shards = 1, bool one_thread = false);
    ~Cache();
    Cache(const Cache&) = delete;
    Cache& operator=(const Cache&) = delete;

    /// TTL this answer may be cached for: the smallest RR TTL for positive answers; for
    /// NXDOMAIN/NODATA min(SOA TTL, SOA MINIMUM) from the authority section (RFC 2308 §5);
    /// nullopt when it must not be cached (no SOA on a negative answer, SERVFAIL unless
    /// configured, truncated answers).
    [[nodiscard]] std::optional<std::uint32_t> cacheable_ttl(const wire::Message& answer) const;

    /// Stores `answer` (the upstream's message) when cacheable. Returns the entry's serial
    /// (never 0, unique per insert across shards), or 0 when it was not stored.
    std::uint64_t insert(const CacheKey& key, const wire::Message& answer, std::string upstream,
                         Clock::time_point now);

    /// The stored answer with every TTL reduced by its age; nullopt on miss or expiry.
    std::optional<CacheHit> lookup(const CacheKeyRef& key, Clock::time_point now);
    /// As lookup(), into `hit`: its message and upstream are assigned over, so the storage
    /// they hold is reused (a hit on a recycled query context copies without allocating).
    /// False on miss or expiry, and `hit` is left as it was.
    bool lookup_into(const CacheKeyRef& key, Clock::time_point now, CacheHit& hit);
    /// For an answer built earlier from the entry with `serial` when it was `age_s` seconds
    /// old: true when that same entry still answers `key` at `now` and is still `age_s` old,
    /// counted and moved up the LRU exactly as lookup_into() would, without copying the
    /// message. False changes nothing (then lookup_into() tells what the cache holds).
    bool still_serves(const CacheKeyRef& key, Clock::time_point now, std::uint64_t serial,
                      std::uint32_t age_s);

    [[nodiscard]] std::size_t size() const;
    /// The shards' counters added up.
    [[nodiscard]] CacheStats stats() const;
    void clear();

private:
    struct Shard;
    Shard& shard_for(const CacheKeyRef& key) const;

    /// The shard's lock, unless the cache has one thread.
    class Lock {
    public:
        Lock(const Shard& sh, bool one_thread);
        ~Lock();
        Lock(const Lock&) = delete;
        Lock& operator=(const Lock&) = delete;

    private:
        std::mutex* mu_;
    };

    std::uint32_t max_ttl_;
    std::uint32_t servfail_ttl_;
    bool one_thread_;
    std::vector<std::unique_ptr<Shard>> shards_;
    std::atomic<std::uint64_t> last_serial_{0};
};

} // namespace resolver::cache
