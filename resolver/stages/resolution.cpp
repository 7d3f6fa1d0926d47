// SPDX-License-Identifier: MIT
// Cache, the upstream exchange and the answer built from the upstream truth.
#include <algorithm>

#include "resolver/stages/stage.hpp"

namespace resolver::stages {
namespace {

bool dnssec_ok(const wire::Message& q) {
    return q.edns && q.edns->dnssec_ok;
}

/// The route the cache keys this query's answers under: the resolver-policy route, and for
/// an answer tailored to one client subnet, that subnet too (RFC 7871 §7.3.1; we do not read
/// the upstream's SCOPE, so the source prefix is the scope). `storage` holds the text when
/// it has to be built.
std::string_view cache_route(const QueryContext& ctx, std::string& storage) {
    if (ctx.client_subnet_text.empty()) {
        return ctx.route;
    }
    storage = ctx.route + "|ecs:" + ctx.client_subnet_text;
    return storage;
}

cache::CacheKey key_for(const QueryContext& ctx, const wire::Question& question) {
    const auto& q = *ctx.query;
    std::string storage;
    return cache::CacheKey::of(question, dnssec_ok(q), q.flag(wire::kFlagCd),
                               std::string(cache_route(ctx, storage)));
}

bool is_dnssec_type(std::uint16_t t) {
    return t == wire::rrtype::RRSIG || t == wire::rrtype::NSEC || t == 50 /* NSEC3 */;
}

// RFC 4035 §3.2.1: without DO, DNSSEC records are left out unless explicitly asked for.
void strip_dnssec(std::vector<wire::ResourceRecord>& rrs, std::uint16_t qtype) {
    std::erase_if(rrs, [&](const wire::ResourceRecord& rr) {
        return is_dnssec_type(rr.type) && rr.type != qtype;
    });
}

/// Gateway's maximum DNS TTL for allowed upstream answers: the account's cap, unless the
/// location disables or overrides it (developers.cloudflare.com/cloudflare-one/policies/
/// gateway/dns-policies/, "Maximum DNS TTL"). The cache keeps the uncapped TTLs.
void cap_ttls(QueryContext& ctx, wire::Message& r) {
    const std::uint32_t account = ctx.policy->account_max_ttl;
    const auto* loc = ctx.location.location;
    const std::uint32_t cap = loc != nullptr ? loc->effective_max_ttl(account) : account;
    if (cap == 0) {
        return;
    }
    for (auto* section : {&r.answer, &r.authority, &r.additional}) {
        for (auto& rr : *section) {
            rr.ttl = std::min(rr.ttl, cap);
        }
    }
    ctx.applied_max_ttl = cap;
}

/// UpstreamRecordTTLs and InitialResolvedIPs: the upstream truth before any cap or policy.
void record_upstream_facts(QueryContext& ctx) {
    ctx.upstream_ttls.reserve(ctx.upstream_answer->answer.size()); // one allocation, not one per
    for (const auto& rr : ctx.upstream_answer->answer) {           // doubling
        ctx.upstream_ttls.push_back(rr.ttl);
        // The records wire::address_text() formats: A with 4 octets, AAAA with 16.
        if ((rr.type == wire::rrtype::A && rr.rdata.size() == 4) ||
            (rr.type == wire::rrtype::AAAA && rr.rdata.size() == 16)) {
            ctx.initial_resolved_ips.push_back(*net::IpAddr::from_bytes(rr.rdata));
        }
    }
}

/// The same key as key_for(), as views into ctx, `name` and `route_storage`: a lookup
/// allocates no key (but with ECS).
cache::CacheKeyRef lookup_key(const QueryContext& ctx, cache::LoweredName& name,
                              std::string& route_storage) {
    const auto& q = *ctx.query;
    const wire::Question& question = q.question[0];
    return {cache::lowered_wire(question.qname, name),
            question.qtype,
            question.qclass,
            dnssec_ok(q),
            q.flag(wire::kFlagCd),
            cache_route(ctx, route_storage)};
}

} // namespace

void remember_sent(QueryContext& ctx, const Environment& env, std::span<const std::uint8_t> wire) {
    if (env.resent == nullptr || env.trace || !env.resent->keeps(ctx)) {
        return; // before the key: a DoT or DoH hit must not pay for building one
    }
    env.resent->remember(ctx, wire, key_for(ctx, ctx.query->question[0]));
}

Next cache_lookup(QueryContext& ctx, const Environment& env) {
    if (env.cache == nullptr) {
        return Next::Continue;
    }
    cache::LoweredName name;
    std::string route_storage;
    const cache::CacheKeyRef key = lookup_key(ctx, name, route_storage);
    // Assigned over the recycled storage: a hit copies the stored answer without allocating
    // once the slot has held one like it. The query's arrival is the time the cache answers
    // for (no extra clock read).
    cache::CacheHit hit{std::move(ctx.recycled_message), 0, std::move(ctx.upstream_server), 0};
    if (!env.cache->lookup_into(key, ctx.received_at, hit)) {
        ctx.recycled_message = std::move(hit.message);
        ctx.upstream_server = std::move(hit.upstream);
        return Next::Continue;
    }
    ctx.source = AnswerSource::Cache;
    ctx.cache_age_s = hit.age_s;
    ctx.upstream_server = std::move(hit.upstream);
    ctx.upstream_serial = hit.serial;
    ctx.upstream_answer = std::move(hit.message);
    record_upstream_facts(ctx);
    return Next::Answer;
}

void cache_insert(QueryContext& ctx, const Environment& env) {
    ctx.source = AnswerSource::Upstream;
    record_upstream_facts(ctx);
    if (env.cache != nullptr) {
        ctx.upstream_serial =
            env.cache->insert(key_for(ctx, ctx.upstream_request->question), *ctx.upstream_answer,
                              ctx.upstream_server, env.clock->now());
    }
}

UpstreamRequest upstream_request(const QueryContext& ctx, const Environment& env,
                                 UpstreamRequest::Purpose purpose, const wire::Question& question) {
    const auto& q = *ctx.query;
    UpstreamRequest req;
    req.purpose = purpose;
    req.question = question;
    req.id = env.rng->next_u16(); // never the client's ID (RFC 5452 §4.3)
    req.route = ctx.evaluation ? &ctx.evaluation->route : nullptr;
    req.route_key = ctx.route_key.empty() ? std::string("default") : ctx.route_key;
    req.urls = ctx.route_urls;
    req.prefer_fastest = ctx.route_prefer_fastest;
    req.sent_at = env.clock->now();
    wire::Message out;
    out.id = req.id;
    out.set_flag(wire::kFlagRd, true);
    out.set_flag(wire::kFlagCd, q.flag(wire::kFlagCd));
    out.question = {question};
    out.edns.emplace();
    out.edns->udp_size = env.config.udp_payload;
    out.edns->dnssec_ok = dnssec_ok(q);
    if (ctx.client_subnet) {
        out.edns->options.push_back(*ctx.client_subnet);
    }
    req.wire = wire::serialize(out);
    return req;
}

std::optional<wire::Message> accept_upstream(QueryContext& ctx, Result<UpstreamAnswer> answer) {
    if (!answer) {
        ctx.upstream_error = answer.error();
        return std::nullopt;
    }
    ctx.upstream_server = answer->server;
    auto parsed = wire::parse({answer->wire.data(), answer->wire.size()});
    const UpstreamRequest& req = *ctx.upstream_request;
    const bool matches = parsed && parsed.message->id == req.id &&
                         parsed.message->question.size() == 1 &&
                         parsed.message->question[0].qname == req.question.qname &&
                         parsed.message->question[0].qtype == req.question.qtype;
    if (!matches) {
        ctx.upstream_error =
            fail(Errc::UpstreamFailure, answer->server +
                                            " sent an answer that does not match the question" +
                                            (parsed ? "" : " (" + parsed.failure.reason + ")"));
        return std::nullopt;
    }
    return std::move(parsed.message);
}

void answer_from_upstream(QueryContext& ctx, const Environment& env) {
    const wire::Message& q = *ctx.query;
    // The upstream answer is not needed after this point (policy has seen it, the cache holds
    // its own copy): its sections move into the response instead of being copied, unless a
    // trace (explain) shows it afterwards.
    wire::Message& up = *ctx.upstream_answer;
    // Without a trace the upstream answer's question vector is storage for the response's
    // (assigned over with the client's question, whose case the response echoes).
    wire::Message r =
        wire::make_response(q, up.rcode() & 0xF, env.config.udp_payload,
                            env.trace ? std::vector<wire::Question>{} : std::move(up.question));
    if (env.trace) {
        r.answer = up.answer;
        r.authority = up.authority;
        r.additional = up.additional;
    } else {
        r.answer = std::move(up.answer);
        r.authority = std::move(up.authority);
        r.additional = std::move(up.additional);
    }
    r.set_flag(wire::kFlagRa, true);
    // RFC 6840 §5.8: AD only for clients that asked with DO or AD.
    r.set_flag(wire::kFlagAd, up.flag(wire::kFlagAd) && (dnssec_ok(q) || q.flag(wire::kFlagAd)));
    if (!dnssec_ok(q)) {
        const auto qtype = q.question[0].qtype;
        strip_dnssec(r.answer, qtype);
        strip_dnssec(r.authority, qtype);
        strip_dnssec(r.additional, qtype);
    }
    if (r.edns) {
        for (const auto& e : up.edes()) {
            r.add_ede(e.code, e.text); // keep what the upstream told us (RFC 8914 §3)
        }
    }
    cap_ttls(ctx, r);
    ctx.response = std::move(r);
}

void complete_target(QueryContext& ctx, const wire::Message& target_answer) {
    policy::complete_answer(*ctx.synth, target_answer);
    ctx.response = ctx.synth->message;
}

} // namespace resolver::stages
