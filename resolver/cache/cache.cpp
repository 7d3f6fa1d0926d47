// SPDX-License-Identifier: MIT
#include "resolver/cache/cache.hpp"

#include <algorithm>
#include <functional>

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

std::size_t CacheKeyHash::operator()(const CacheKey& k) const noexcept {
    std::size_t h = std::hash<std::string>{}(k.qname_lower_wire);
    h ^= (std::size_t{k.qtype} << 1) ^ (std::size_t{k.qclass} << 17) ^
         (std::size_t{k.dnssec_ok} << 33) ^ (std::size_t{k.checking_disabled} << 34);
    h ^= std::hash<std::string>{}(k.route) * 31;
    return h;
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

std::uint64_t Cache::insert(const CacheKey& key, const wire::Message& answer, std::string upstream,
                            Clock::time_point now) {
    const auto ttl = cacheable_ttl(answer);
    if (!ttl || *ttl == 0 || max_entries_ == 0) {
        return 0;
    }
    if (auto it = index_.find(key); it != index_.end()) {
        lru_.erase(it->second);
        index_.erase(it);
    }
    const std::uint64_t serial = ++last_serial_;
    lru_.push_front(
        Entry{key, answer, std::move(upstream), now, now + std::chrono::seconds(*ttl), serial});
    index_.emplace(key, lru_.begin());
    ++stats_.inserts;
    while (index_.size() > max_entries_) {
        index_.erase(lru_.back().key);
        lru_.pop_back();
        ++stats_.evictions;
    }
    return serial;
}

std::optional<CacheHit> Cache::lookup(const CacheKey& key, Clock::time_point now) {
    auto it = index_.find(key);
    if (it == index_.end()) {
        ++stats_.misses;
        return std::nullopt;
    }
    Entry& e = *it->second;
    if (now >= e.expires) {
        lru_.erase(it->second);
        index_.erase(it);
        ++stats_.expired;
        ++stats_.misses;
        return std::nullopt;
    }
    lru_.splice(lru_.begin(), lru_, it->second);
    ++stats_.hits;
    CacheHit hit{e.message,
                 static_cast<std::uint32_t>(
                     std::chrono::duration_cast<std::chrono::seconds>(now - e.stored).count()),
                 e.upstream, e.serial};
    age_section(hit.message.answer, hit.age_s);
    age_section(hit.message.authority, hit.age_s);
    age_section(hit.message.additional, hit.age_s);
    return hit;
}

void Cache::clear() {
    lru_.clear();
    index_.clear();
}

} // namespace resolver::cache
