// SPDX-License-Identifier: MIT
#include "resolver/stages/decision_cache.hpp"

#include <algorithm>
#include <cstring>
#include <limits>
#include <type_traits>

#include "resolver/util/hash.hpp"

namespace resolver::stages {
namespace {

static_assert(std::has_unique_object_representations_v<DecisionKey::Fixed>,
              "padding in DecisionKey::Fixed would make its byte comparison wrong");
static_assert(sizeof(DecisionKey::Fixed) % 16 == 0 && sizeof(DecisionKey::Fixed) >= 32,
              "the hash reads the fixed part in 16 bytes");

/// When the rules' verdicts may next change with time alone.
std::int64_t valid_until(const policy::PolicySet& set, std::int64_t now) {
    std::int64_t until = std::numeric_limits<std::int64_t>::max();
    auto scan = [&](const std::vector<policy::Rule>& rules) {
        for (const auto& r : rules) {
            if (r.schedule) {
                until = std::min(until, (now / 60 + 1) * 60);
            }
            if (r.expires_at && *r.expires_at > now) {
                until = std::min(until, *r.expires_at);
            }
        }
    };
    scan(set.dns_rules);
    scan(set.resolver_rules);
    return until;
}

} // namespace

bool operator==(const DecisionKey::Fixed& a, const DecisionKey::Fixed& b) noexcept {
    return util::same_bytes(a, b);
}

DecisionKey DecisionKey::of(const QueryContext& ctx) {
    DecisionKey k;
    const wire::Message& q = *ctx.query;
    Fixed& f = k.fixed;
    f.generation = ctx.policy->generation;
    f.set = ctx.policy->set.get();
    f.location = ctx.location.location;
    put_ip(ctx.src_ip, f.src, f.src_family);
    put_ip(ctx.dst_ip, f.dst, f.dst_family);
    put_ip(ctx.src_internal_ip, f.src_internal, f.src_internal_family);
    f.qtype = q.question[0].qtype;
    f.qclass = q.question[0].qclass;
    f.flags = (q.edns ? 1 : 0) | (q.edns && q.edns->dnssec_ok ? 2 : 0) |
              (q.flag(wire::kFlagCd) ? 4 : 0) | (q.flag(wire::kFlagAd) ? 8 : 0) |
              (ctx.request_categories ? 16 : 0);
    k.qname = ctx.qname_text;
    k.doh_subdomain = ctx.location.doh_subdomain;
    k.identity_token = ctx.transport.http_authorization;
    if (ctx.request_categories) {
        k.categories = *ctx.request_categories;
    }
    return k;
}

std::uint64_t decision_key_hash(const DecisionKey& k) noexcept {
    const auto* f = reinterpret_cast<const unsigned char*>(&k.fixed);
    // The lengths in one word, folded into the last 16 bytes of the fixed part (the hash of
    // texts longer than 64 KiB is weaker, never wrong).
    const std::uint64_t lengths = k.qname.size() | k.doh_subdomain.size() << 16 |
                                  k.identity_token.size() << 32 | k.categories.size() << 48;
    std::uint64_t h = util::kHashSeed;
    for (std::size_t i = 0; i + 16 < sizeof k.fixed; i += 16) {
        h = util::hash_mix(util::hash_load<std::uint64_t>(f + i) ^ h,
                           util::hash_load<std::uint64_t>(f + i + 8));
    }
    h = util::hash_mix(util::hash_load<std::uint64_t>(f + sizeof k.fixed - 16) ^ h,
                       util::hash_load<std::uint64_t>(f + sizeof k.fixed - 8) ^ lengths);
    h = util::hash_text(h, k.qname);
    // Usually empty (no DoH location, no token): skipped without a call.
    if (!k.doh_subdomain.empty()) {
        h = util::hash_text(h, k.doh_subdomain);
    }
    if (!k.identity_token.empty()) {
        h = util::hash_text(h, k.identity_token);
    }
    for (auto c : k.categories) {
        h = util::hash_mix(h, static_cast<std::uint64_t>(c));
    }
    return h;
}

DecisionCache::StoredKey::StoredKey(const DecisionKey& k)
    : fixed(k.fixed), qname(k.qname), doh_subdomain(k.doh_subdomain),
      identity_token(k.identity_token), categories(k.categories.begin(), k.categories.end()),
      hash(k.hash) {}

bool DecisionCache::KeyEqual::operator()(const StoredKey& a, const StoredKey& b) const noexcept {
    return a.hash == b.hash && a.fixed == b.fixed && a.qname == b.qname &&
           a.doh_subdomain == b.doh_subdomain && a.identity_token == b.identity_token &&
           a.categories == b.categories;
}

bool DecisionCache::KeyEqual::operator()(const DecisionKey& a, const StoredKey& b) const noexcept {
    // The hash first: it settles almost every unequal pair; then every field, so that keys
    // with equal hashes but any other difference stay apart.
    return a.hash == b.hash && a.fixed == b.fixed && a.qname == b.qname &&
           a.doh_subdomain == b.doh_subdomain && a.identity_token == b.identity_token &&
           std::equal(a.categories.begin(), a.categories.end(), b.categories.begin(),
                      b.categories.end());
}

DecisionKey DecisionCache::key_of(const QueryContext& ctx) const {
    DecisionKey k = DecisionKey::of(ctx);
    k.hash = hasher_(k);
    return k;
}

DecisionPtr DecisionCache::find(const QueryContext& ctx, std::int64_t now_s) {
    const DecisionKey k = key_of(ctx);
    auto it = current_.find(k);
    if (it == current_.end()) {
        auto old = older_.find(k);
        if (old == older_.end()) {
            ++stats_.misses;
            return nullptr;
        }
        // Still wanted: promote it into the current generation (the node moves, nothing is
        // copied).
        it = current_.insert(older_.extract(old)).position;
    }
    if (now_s >= it->second->valid_until) {
        current_.erase(it);
        ++stats_.expired;
        ++stats_.misses;
        return nullptr;
    }
    ++stats_.hits;
    return it->second;
}

DecisionPtr DecisionCache::insert(const QueryContext& ctx,
                                  std::shared_ptr<const policy::Evaluation> pre,
                                  std::int64_t now_s) {
    if (max_entries_ == 0) {
        return nullptr;
    }
    if (current_.size() >= max_entries_ / 2 + 1) {
        older_ = std::move(current_);
        current_ = Table{};
    }
    auto d = std::make_shared<Decision>();
    d->pre = std::move(pre);
    d->valid_until = valid_until(*ctx.policy->set, now_s);
    const DecisionKey k = key_of(ctx);
    if (auto old = older_.find(k); old != older_.end()) {
        older_.erase(old);
    }
    if (auto it = current_.find(k); it != current_.end()) {
        it->second = d;
    } else {
        current_.emplace(StoredKey(k), d);
    }
    return d;
}

} // namespace resolver::stages
