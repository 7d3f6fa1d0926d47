// SPDX-License-Identifier: MIT
#include "resolver/stages/decision_cache.hpp"

#include <algorithm>
#include <cstring>
#include <limits>

namespace resolver::stages {
namespace {

template <typename T>
void put(std::string& k, const T& v) {
    char raw[sizeof(T)];
    std::memcpy(raw, &v, sizeof(T));
    k.append(raw, sizeof(T));
}

void put_ip(std::string& k, const std::optional<net::IpAddr>& ip) {
    k.push_back(ip ? (ip->v4 ? '4' : '6') : '-');
    if (ip) {
        k.append(reinterpret_cast<const char*>(ip->bytes.data()), ip->bytes.size());
    }
}

void put_text(std::string& k, std::string_view s) {
    put(k, static_cast<std::uint32_t>(s.size()));
    k.append(s);
}

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

const std::string& DecisionCache::key_of(const QueryContext& ctx) {
    std::string& k = key_;
    k.clear();
    const wire::Message& q = *ctx.query;
    put(k, ctx.policy->generation);
    put(k, static_cast<const void*>(ctx.policy->set.get()));
    put(k, static_cast<const void*>(ctx.location.location));
    put_ip(k, ctx.src_ip);
    put_ip(k, ctx.dst_ip);
    put_ip(k, ctx.src_internal_ip);
    put(k, q.question[0].qtype);
    put(k, q.question[0].qclass);
    const std::uint8_t flags = (q.edns ? 1 : 0) | (q.edns && q.edns->dnssec_ok ? 2 : 0) |
                               (q.flag(wire::kFlagCd) ? 4 : 0) | (q.flag(wire::kFlagAd) ? 8 : 0);
    put(k, flags);
    put_text(k, ctx.qname_text);
    put_text(k, ctx.location.doh_subdomain);
    put_text(k, ctx.transport.http_authorization);
    if (ctx.request_categories) {
        put(k, static_cast<std::uint32_t>(ctx.request_categories->size()));
        for (auto c : *ctx.request_categories) {
            put(k, c);
        }
    } else {
        put(k, std::numeric_limits<std::uint32_t>::max());
    }
    return k;
}

DecisionPtr DecisionCache::find(const QueryContext& ctx, std::int64_t now_s) {
    const std::string& k = key_of(ctx);
    auto it = current_.find(k);
    if (it == current_.end()) {
        auto old = older_.find(k);
        if (old == older_.end()) {
            ++stats_.misses;
            return nullptr;
        }
        // Still wanted: promote it into the current generation.
        it = current_.emplace(old->first, std::move(old->second)).first;
        older_.erase(old);
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
    const std::string& k = key_of(ctx);
    older_.erase(k);
    current_.insert_or_assign(k, d);
    return d;
}

} // namespace resolver::stages
