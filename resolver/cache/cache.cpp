// SPDX-License-Identifier: MIT
#include "resolver/cache/cache.hpp"

#include <algorithm>
#include <cstring>

#include "resolver/util/hash.hpp"
#include "resolver/wire/fold.hpp"

namespace resolver::cache {
namespace {
std::uint32_t soa_minimum(const wire::ResourceRecord& soa) {
    const auto& r = soa.rdata;
    if (r.size() < 4) {
        return 0;
    }
    const std::size_t p = r.size() - 4; // MINIMUM is the last 32-bit field (RFC 1035 §3.3.13)
    return (std::uint32_t{static_cast<std::uint8_t>(r[p])} << 24) |
           (std::uint32_t{static_cast<std::uint8_t>(r[p + 1])} << 16) |
           (std::uint32_t{static_cast<std::uint8_t>(r[p + 2])} << 8) |
           std::uint32_t{static_cast<std::uint8_t>(r[p + 3])};
}

void age_section(std::vector<wire::ResourceRecord>& rrs, std::uint32_t age) {
    for (auto& rr : rrs) {
        rr.ttl = rr.ttl > age ? rr.ttl - age : 0;
    }
}

} // namespace

CacheKey CacheKey::of(const wire::Question& q, bool dnssec_ok, bool checking_disabled,
                      std::string route) {
    return CacheKey{q.qname.lowered().wire(), q.qtype,         q.qclass, dnssec_ok,
                    checking_disabled,        std::move(route)};
}

std::size_t CacheKeyHash::operator()(const CacheKeyRef& k) const noexcept {
    const std::uint64_t fields = std::uint64_t{k.qtype} | std::uint64_t{k.qclass} << 16 |
                                 std::uint64_t{k.dnssec_ok} << 32 |
                                 std::uint64_t{k.checking_disabled} << 33;
    const std::uint64_t lengths = k.qname_lower_wire.size() | k.route.size() << 16;
    std::uint64_t h = util::hash_mix(util::kHashSeed ^ fields, lengths);
    h = util::hash_text(h, k.qname_lower_wire);
    return static_cast<std::size_t>(util::hash_text(h, k.route));
}

std::string_view lowered_wire(const wire::Name& name, LoweredName& buf) noexcept {
    const std::string& w = name.wire();
    const std::size_t n = std::min(w.size(), buf.size());
    // Labels' length octets are below 64 (RFC 1035 §3.1), so lower-casing every octet in
    // A-Z touches label text only: the same bytes as Name::lowered().wire(). Eight octets
    // at a time: this runs for every query.
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        std::uint64_t x;
        std::memcpy(&x, w.data() + i, 8);
        x = wire::fold::fold8(x); // per octet: the order of the octets in the word is moot
        std::memcpy(buf.data() + i, &x, 8);
    }
    for (; i < n; ++i) {
        const char c = w[i];
        buf[i] = c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
    }
    return {buf.data(), n};
}

std::optional<std::uint32_t> Cache::cacheable_ttl(const wire::Message& m) const {
    if (m.flag(wire::kFlagTc)) {
        return std::nullopt;
    }
    const std::uint16_t rc = m.rcode();
    if (rc == wire::rcode::ServFail) {
        return servfail_ttl_ > 0 ? std::optional<std::uint32_t>(servfail_ttl_) : std::nullopt;
    }
    const bool negative =
        rc == wire::rcode::NxDomain || (rc == wire::rcode::NoError && m.answer.empty());
    if (rc != wire::rcode::NoError && rc != wire::rcode::NxDomain) {
        return std::nullopt; // REFUSED, NOTIMP, FORMERR: never cached
    }
    if (negative) {
        for (const auto& rr : m.authority) {
            if (rr.type == wire::rrtype::SOA) {
                return std::min({rr.ttl, soa_minimum(rr), max_ttl_});
            }
        }
        return std::nullopt; // RFC 2308 §5: without an SOA, negative answers are not cached
    }
    std::uint32_t ttl = max_ttl_;
    for (const auto* section : {&m.answer, &m.authority}) {
        for (const auto& rr : *section) {
            ttl = std::min(ttl, rr.ttl);
        }
    }
    return ttl;
}

struct Cache::Shard {
    struct Entry {
        CacheKey key;
        wire::Message message;
        std::string upstream;
        Clock::time_point stored;
        Clock::time_point expires;
        std::uint64_t serial;
    };
    using Lru = std::list<Entry>;

    std::size_t max_entries;
    mutable std::mutex mu;
    Lru lru; // front = most recently used
    std::unordered_map<CacheKey, Lru::iterator, CacheKeyHash, CacheKeyEqual> index;
    CacheStats stats;
};

Cache::Cache(std::size_t max_entries, std::uint32_t max_ttl, std::uint32_t servfail_ttl,
             std::size_t shards, bool one_thread)
    : max_ttl_(max_ttl), servfail_ttl_(servfail_ttl), one_thread_(one_thread) {
    shards = std::max<std::size_t>(1, shards);
    for (std::size_t i = 0; i < shards; ++i) {
        auto s = std::make_unique<Shard>();
        // Every shard gets its share; the bound over all shards stays max_entries.
        s->max_entries = max_entries / shards + (i < max_entries % shards ? 1 : 0);
        shards_.push_back(std::move(s));
    }
}

Cache::~Cache() = default;

Cache::Lock::Lock(const Shard& sh, bool one_thread) : mu_(one_thread ? nullptr : &sh.mu) {
    if (mu_ != nullptr) {
        mu_->lock();
    }
}

Cache::Lock::~Lock() {
    if (mu_ != nullptr) {
        mu_->unlock();
    }
}

Cache::Shard& Cache::shard_for(const CacheKeyRef& key) const {
    if (shards_.size() == 1) {
        return *shards_.front(); // one loop: no hash spent on choosing
    }
    // The high bits: the low ones already picked the bucket inside the shard's table.
    return *shards_[(CacheKeyHash{}(key) >> 7) % shards_.size()];
}

std::uint64_t Cache::insert(const CacheKey& key, const wire::Message& answer, std::string upstream,
                            Clock::time_point now) {
    const auto ttl = cacheable_ttl(answer);
    Shard& sh = shard_for(key);
    if (!ttl || *ttl == 0 || sh.max_entries == 0) {
        return 0;
    }
    const std::uint64_t serial = ++last_serial_;
    const Lock lock(sh, one_thread_);
    if (auto it = sh.index.find(key); it != sh.index.end()) {
        sh.lru.erase(it->second);
        sh.index.erase(it);
    }
    sh.lru.push_front(Shard::Entry{key, answer, std::move(upstream), now,
                                   now + std::chrono::seconds(*ttl), serial});
    sh.index.emplace(key, sh.lru.begin());
    ++sh.stats.inserts;
    while (sh.index.size() > sh.max_entries) {
        sh.index.erase(sh.lru.back().key);
        sh.lru.pop_back();
        ++sh.stats.evictions;
    }
    return serial;
}

std::optional<CacheHit> Cache::lookup(const CacheKeyRef& key, Clock::time_point now) {
    CacheHit hit;
    if (!lookup_into(key, now, hit)) {
        return std::nullopt;
    }
    return hit;
}

bool Cache::lookup_into(const CacheKeyRef& key, Clock::time_point now, CacheHit& hit) {
    Shard& sh = shard_for(key);
    {
        const Lock lock(sh, one_thread_);
        auto it = sh.index.find(key);
        if (it == sh.index.end()) {
            ++sh.stats.misses;
            return false;
        }
        Shard::Entry& e = *it->second;
        if (now >= e.expires) {
            sh.lru.erase(it->second);
            sh.index.erase(it);
            ++sh.stats.expired;
            ++sh.stats.misses;
            return false;
        }
        if (it->second != sh.lru.begin()) {
            sh.lru.splice(sh.lru.begin(), sh.lru, it->second);
        }
        ++sh.stats.hits;
        hit.message = e.message;
        hit.upstream = e.upstream;
        hit.serial = e.serial;
        hit.age_s = static_cast<std::uint32_t>(
            std::chrono::duration_cast<std::chrono::seconds>(now - e.stored).count());
    }
    age_section(hit.message.answer, hit.age_s);
    age_section(hit.message.authority, hit.age_s);
    age_section(hit.message.additional, hit.age_s);
    return true;
}

bool Cache::still_serves(const CacheKeyRef& key, Clock::time_point now, std::uint64_t serial,
                         std::uint32_t age_s) {
    Shard& sh = shard_for(key);
    const Lock lock(sh, one_thread_);
    auto it = sh.index.find(key);
    if (it == sh.index.end()) {
        return false;
    }
    Shard::Entry& e = *it->second;
    if (e.serial != serial || now >= e.expires ||
        std::chrono::duration_cast<std::chrono::seconds>(now - e.stored).count() != age_s) {
        return false;
    }
    if (it->second != sh.lru.begin()) {
        sh.lru.splice(sh.lru.begin(), sh.lru, it->second);
    }
    ++sh.stats.hits;
    return true;
}

std::size_t Cache::size() const {
    std::size_t n = 0;
    for (const auto& sh : shards_) {
        const Lock lock(*sh, one_thread_);
        n += sh->index.size();
    }
    return n;
}

CacheStats Cache::stats() const {
    CacheStats t;
    for (const auto& sh : shards_) {
        const Lock lock(*sh, one_thread_);
        t.hits += sh->stats.hits;
        t.misses += sh->stats.misses;
        t.inserts += sh->stats.inserts;
        t.evictions += sh->stats.evictions;
        t.expired += sh->stats.expired;
    }
    return t;
}

void Cache::clear() {
    for (const auto& sh : shards_) {
        const Lock lock(*sh, one_thread_);
        sh->lru.clear();
        sh->index.clear();
    }
}

} // namespace resolver::cache
