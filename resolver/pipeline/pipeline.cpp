// SPDX-License-Identifier: MIT
#include "resolver/pipeline/pipeline.hpp"

#include <algorithm>

#include "resolver/pipeline/log_record.hpp"

namespace resolver::pipeline {
namespace {
bool is_dnssec_type(std::uint16_t t) {
    return t == wire::rrtype::RRSIG || t == wire::rrtype::NSEC || t == 50 /* NSEC3 */;
}

// RFC 4035 §3.2.1: without DO, DNSSEC records are left out unless explicitly asked for.
void strip_dnssec(std::vector<wire::ResourceRecord>& rrs, std::uint16_t qtype) {
    rrs.erase(std::remove_if(rrs.begin(), rrs.end(),
                             [&](const wire::ResourceRecord& rr) {
                                 return is_dnssec_type(rr.type) && rr.type != qtype;
                             }),
              rrs.end());
}
} // namespace

Pipeline::Pipeline(PipelineConfig config, upstream::Upstream& default_upstream, cache::Cache& cache,
                   log::QueryLog* log, UpstreamMaker make_upstream)
    : config_(config), default_upstream_(default_upstream), cache_(cache), log_(log),
      make_upstream_(std::move(make_upstream)) {
    auto empty = std::make_shared<PolicySnapshot>();
    empty->set = std::make_shared<const policy::PolicySet>();
    policy_ = std::move(empty);
}

Pipeline::~Pipeline() {
    *alive_ = false;
}

void Pipeline::handle(std::vector<std::uint8_t> wire, io::TransportInfo info, io::ReplyFn reply) {
    ++counters_.received;
    auto owned = std::make_unique<QueryContext>();
    QueryContext& ctx = *owned;
    ctx.id = next_id_++;
    ctx.transport = std::move(info);
    ctx.received_at = std::chrono::steady_clock::now();
    ctx.received_wall = std::chrono::system_clock::now();
    ctx.query_size = wire.size();
    ctx.reply = std::move(reply);
    in_flight_.emplace(ctx.id, std::move(owned));

    ctx.policy = policy_; // pinned: a reload never changes the rules under this query

    // The order of stages, written once (Gateway's phase order, reference §1.6). Only the
    // upstream stage is asynchronous; it continues in on_upstream().
    Verdict v = decode(ctx, wire);
    if (v != Verdict::Continue) {
        finish(ctx, v);
        return;
    }
    attribute(ctx);
    v = pre_policy(ctx); // may answer locally (block, override, safe search)
    if (v == Verdict::Answer && !ctx.resolving_target) {
        finish(ctx, v);
        return;
    }
    v = route(ctx); // resolver policies picked the route in pre_policy; bind it to an upstream
    if (v != Verdict::Continue) {
        finish(ctx, v);
        return;
    }
    if (ctx.resolving_target) {
        send_upstream(ctx, wire::Question{*ctx.synth->pending_target, ctx.query->question[0].qtype,
                                          ctx.query->question[0].qclass});
        return;
    }
    v = cache_lookup(ctx);
    if (v == Verdict::Answer) {
        after_answer(ctx);
        return;
    }
    send_upstream(ctx, ctx.query->question[0]);
}

Verdict Pipeline::decode(QueryContext& ctx, const std::vector<std::uint8_t>& wire) {
    auto parsed = wire::parse({wire.data(), wire.size()});
    if (!parsed) {
        if (parsed.failure.kind == wire::ParseFailure::Kind::ShortHeader) {
            ++counters_.dropped;
            ctx.drop_reason = parsed.failure.reason;
            return Verdict::Drop;
        }
        // RFC 1035 §4.1.1: FORMERR, echoing the ID; the question is unreadable so none is sent.
        wire::Message r;
        r.id = parsed.failure.id;
        r.flags = static_cast<std::uint16_t>(wire::kFlagQr |
                                             (parsed.failure.flags & (0x7800 | wire::kFlagRd)));
        r.set_rcode(wire::rcode::FormErr);
        ctx.drop_reason = parsed.failure.reason;
        ctx.response = std::move(r);
        ++counters_.formerr;
        return Verdict::Answer;
    }
    wire::Message& q = *parsed.message;
    if (q.flag(wire::kFlagQr) || q.question.size() != 1) {
        ctx.query = std::move(q);
        ctx.drop_reason = ctx.query->flag(wire::kFlagQr) ? "QR set in a query" : "QDCOUNT is not 1";
        answer_error(ctx, wire::rcode::FormErr);
        ++counters_.formerr;
        return Verdict::Answer;
    }
    ctx.query = std::move(q);
    if (ctx.query->opcode() != 0) {
        answer_error(ctx, wire::rcode::NotImp);
        ++counters_.notimp;
        return Verdict::Answer;
    }
    if (ctx.query->edns && ctx.query->edns->version > 0) {
        answer_error(ctx, wire::rcode::BadVers); // RFC 6891 §6.1.3, answered with version 0
        return Verdict::Answer;
    }
    const auto qtype = ctx.query->question[0].qtype;
    if (qtype == 252 /* AXFR */ || qtype == 251 /* IXFR */) {
        answer_error(ctx, wire::rcode::NotImp);
        ++counters_.notimp;
        return Verdict::Answer;
    }
    ctx.qname_text = ctx.query->question[0].qname.to_gateway_text();
    if (ctx.query->edns) {
        if (const auto* loc = ctx.query->edns->find(wire::edns_opt::Location)) {
            ctx.edns_location = loc->data;
        }
        if (const auto* cats = ctx.query->edns->find(wire::edns_opt::RequestCategories)) {
            ctx.request_categories = policy::parse_request_categories(cats->data);
        }
    }
    return Verdict::Continue;
}

void Pipeline::attribute(QueryContext& ctx) {
    const io::TransportInfo& t = ctx.transport;
    attribution::AttributionInput in;
    switch (t.protocol) {
    case net::Transport::Udp:
        in.transport = net::Transport::Udp;
        break;
    case net::Transport::Tcp:
        in.transport = net::Transport::Tcp;
        break;
    case net::Transport::Tls:
        in.transport = net::Transport::Tls;
        break;
    case net::Transport::Https:
        in.transport = net::Transport::Https;
        break;
    }
    ctx.src_ip = net::IpAddr::parse(t.src.ip);
    ctx.dst_ip = net::IpAddr::parse(t.dst.ip);
    in.src = ctx.src_ip;
    in.dst = ctx.dst_ip;
    in.sni = t.sni;
    in.http_host = t.http_host;
    in.http_path = t.http_path;
    in.http_location = t.http_location;
    if (ctx.edns_location) {
        in.edns_location = *ctx.edns_location;
    }
    ctx.location = attribution::attribute(ctx.policy->set->locations, in, ctx.policy->behaviour);
}

policy::QueryFacts Pipeline::facts(const QueryContext& ctx) const {
    policy::QueryFacts f;
    f.qname = ctx.qname_text;
    f.qtype = ctx.query->question[0].qtype;
    f.src_ip = ctx.src_ip;
    f.dst_ip = ctx.dst_ip;
    f.location = ctx.location.location;
    f.doh_subdomain = ctx.location.doh_subdomain;
    f.identity_token = ctx.transport.http_authorization;
    f.request_categories = ctx.request_categories;
    f.query_id = ctx.id;
    return f;
}

Verdict Pipeline::pre_policy(QueryContext& ctx) {
    const PolicySnapshot& p = *ctx.policy;
    policy::EvalOptions opt;
    opt.now = std::chrono::duration_cast<std::chrono::seconds>(ctx.received_wall.time_since_epoch())
                  .count();
    opt.scratch = &eval_scratch_;
    ctx.facts = facts(ctx); // QueryContext never moves (owned by unique_ptr): views stay valid
    ctx.evaluation = policy::evaluate_pre(*p.set, ctx.facts, p.behaviour, opt);
    if (ctx.evaluation->needs_resolution()) {
        return Verdict::Continue;
    }
    auto synth = policy::synthesize(*ctx.query, *ctx.evaluation, p.behaviour);
    if (!synth) {
        return Verdict::Continue; // e.g. safe search for a name that is no search engine
    }
    ctx.source = AnswerSource::Local;
    ctx.synth = std::move(synth);
    if (ctx.synth->pending_target) {
        ctx.resolving_target = true; // override_host / safe search: resolve the target
        return Verdict::Answer;
    }
    ctx.response = ctx.synth->message;
    return Verdict::Answer;
}

Verdict Pipeline::route(QueryContext& ctx) {
    if (ctx.evaluation) {
        ctx.route = ctx.evaluation->route.key();
        if (ctx.evaluation->route.kind == policy::Route::Kind::CustomResolvers) {
            std::string addrs;
            for (const auto& r : ctx.evaluation->route.resolvers) {
                addrs += (addrs.empty() ? "" : ",") + r.to_string();
            }
            ctx.custom_resolver_address = addrs;
        }
    }
    if (upstream_for(ctx) == nullptr) {
        ctx.upstream_error = fail(Errc::UpstreamFailure, "no upstream for route " + ctx.route);
        answer_error(ctx, wire::rcode::ServFail);
        return Verdict::Answer;
    }
    return Verdict::Continue;
}

upstream::Upstream* Pipeline::upstream_for(QueryContext& ctx) {
    if (!ctx.evaluation) {
        return &default_upstream_;
    }
    const policy::Route& r = ctx.evaluation->route;
    std::vector<std::string> urls;
    switch (r.kind) {
    case policy::Route::Kind::Default:
    case policy::Route::Kind::Cloudflare: // the lab's default upstream stands in for 1.1.1.1
        return &default_upstream_;
    case policy::Route::Kind::Internal:
        if (ctx.policy->behaviour.internal_upstream.empty()) {
            return &default_upstream_;
        }
        urls.push_back(ctx.policy->behaviour.internal_upstream);
        break;
    case policy::Route::Kind::CustomResolvers:
        for (const auto& a : r.resolvers) {
            urls.push_back("udp://" + a.to_string());
        }
        break;
    }
    const std::string key = ctx.route;
    if (auto it = route_upstreams_.find(key); it != route_upstreams_.end()) {
        return it->second.get();
    }
    if (!make_upstream_) {
        return nullptr;
    }
    auto up = make_upstream_(urls);
    if (!up) {
        return nullptr;
    }
    return route_upstreams_.emplace(key, std::move(up).value()).first->second.get();
}

Verdict Pipeline::post_policy(QueryContext& ctx) {
    if (!ctx.evaluation || ctx.evaluation->finished) {
        return Verdict::Continue;
    }
    const PolicySnapshot& p = *ctx.policy;
    policy::EvalOptions opt;
    opt.now = std::chrono::duration_cast<std::chrono::seconds>(ctx.received_wall.time_since_epoch())
                  .count();
    opt.scratch = &eval_scratch_;
    policy::evaluate_post(*p.set, ctx.facts,
                          policy::ResponseFacts::from_message(*ctx.upstream_answer), p.behaviour,
                          opt, *ctx.evaluation);
    if (ctx.evaluation->needs_resolution()) {
        return Verdict::Continue;
    }
    auto synth = policy::synthesize(*ctx.query, *ctx.evaluation, p.behaviour);
    if (!synth || synth->pending_target) {
        // Override-type actions cannot use post-resolution fields (reference §1.6.6); the
        // loader rejects such rules, so only blocks arrive here.
        return Verdict::Continue;
    }
    ctx.synth = std::move(synth);
    ctx.response = ctx.synth->message;
    return Verdict::Answer;
}

Verdict Pipeline::cache_lookup(QueryContext& ctx) {
    if (!config_.cache_enabled) {
        return Verdict::Continue;
    }
    const auto& q = *ctx.query;
    const bool do_bit = q.edns && q.edns->dnssec_ok;
    auto hit =
        cache_.lookup(cache::CacheKey::of(q.question[0], do_bit, q.flag(wire::kFlagCd), ctx.route),
                      std::chrono::steady_clock::now());
    if (!hit) {
        return Verdict::Continue;
    }
    ++counters_.cache_hits;
    ctx.source = AnswerSource::Cache;
    ctx.cache_age_s = hit->age_s;
    ctx.upstream_server = hit->upstream;
    for (const auto& rr : hit->message.answer) {
        ctx.upstream_ttls.push_back(rr.ttl);
    }
    ctx.upstream_answer = std::move(hit->message);
    return Verdict::Answer;
}

void Pipeline::send_upstream(QueryContext& ctx, const wire::Question& question) {
    const auto& q = *ctx.query;
    wire::Message out;
    out.id = static_cast<std::uint16_t>(rng_()); // never the client's ID (cache poisoning hygiene)
    ctx.upstream_id = out.id;
    out.set_flag(wire::kFlagRd, true);
    out.set_flag(wire::kFlagCd, q.flag(wire::kFlagCd));
    out.question = {question};
    out.edns.emplace();
    out.edns->udp_size = config_.udp_payload;
    out.edns->dnssec_ok = q.edns && q.edns->dnssec_ok;
    const QueryId id = ctx.id;
    std::weak_ptr<bool> alive = alive_;
    upstream_for(ctx)->send(wire::serialize(out), [this, alive, id](Result<upstream::Exchange> r) {
        if (alive.expired()) {
            return; // the pipeline is gone (shutdown): nobody to answer
        }
        on_upstream(id, std::move(r));
    });
}

void Pipeline::on_upstream(QueryId id, Result<upstream::Exchange> result) {
    auto it = in_flight_.find(id);
    if (it == in_flight_.end()) {
        return; // a late answer for a query that is gone: harmless
    }
    QueryContext& ctx = *it->second;
    if (!result) {
        ++counters_.upstream_errors;
        ctx.upstream_error = result.error();
        answer_error(ctx, wire::rcode::ServFail);
        finish(ctx, Verdict::Answer);
        return;
    }
    upstream::Exchange& ex = result.value();
    ctx.upstream_server = ex.server;
    auto parsed = wire::parse({ex.wire.data(), ex.wire.size()});
    const wire::Question q = ctx.resolving_target ? wire::Question{*ctx.synth->pending_target,
                                                                   ctx.query->question[0].qtype,
                                                                   ctx.query->question[0].qclass}
                                                  : ctx.query->question[0];
    // RFC 5452 §9.1: an answer must match the ID and the question we sent.
    if (!parsed || parsed.message->id != ctx.upstream_id || parsed.message->question.size() != 1 ||
        !(parsed.message->question[0].qname == q.qname) ||
        parsed.message->question[0].qtype != q.qtype) {
        ++counters_.upstream_errors;
        ctx.upstream_error = fail(Errc::UpstreamFailure,
                                  ex.server + " sent an answer that does not match the question" +
                                      (parsed ? "" : " (" + parsed.failure.reason + ")"));
        answer_error(ctx, wire::rcode::ServFail);
        finish(ctx, Verdict::Answer);
        return;
    }
    if (ctx.resolving_target) {
        policy::complete_answer(*ctx.synth, *parsed.message);
        ctx.response = ctx.synth->message;
        finish(ctx, Verdict::Answer);
        return;
    }
    ctx.source = AnswerSource::Upstream;
    for (const auto& rr : parsed.message->answer) {
        ctx.upstream_ttls.push_back(rr.ttl);
    }
    if (config_.cache_enabled) {
        const bool do_bit = ctx.query->edns && ctx.query->edns->dnssec_ok;
        cache_.insert(cache::CacheKey::of(q, do_bit, ctx.query->flag(wire::kFlagCd), ctx.route),
                      *parsed.message, ex.server, std::chrono::steady_clock::now());
    }
    ctx.upstream_answer = std::move(parsed.message);
    after_answer(ctx);
}

void Pipeline::after_answer(QueryContext& ctx) {
    // Post-resolution policy runs on cache hits and fresh answers alike.
    if (post_policy(ctx) == Verdict::Answer) {
        finish(ctx, Verdict::Answer);
        return;
    }
    const wire::Message& q = *ctx.query;
    // The upstream answer is not needed after this point (policy has seen it, the cache holds
    // its own copy): its sections move into the response instead of being copied.
    wire::Message& up = *ctx.upstream_answer;
    wire::Message r = wire::make_response(q, up.rcode() & 0xF, config_.udp_payload);
    r.answer = std::move(up.answer);
    r.authority = std::move(up.authority);
    r.additional = std::move(up.additional);
    r.set_flag(wire::kFlagRa, true);
    const bool do_bit = q.edns && q.edns->dnssec_ok;
    // RFC 6840 §5.8: AD only for clients that asked with DO or AD.
    r.set_flag(wire::kFlagAd, up.flag(wire::kFlagAd) && (do_bit || q.flag(wire::kFlagAd)));
    if (!do_bit) {
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
    finish(ctx, Verdict::Answer);
}

void Pipeline::cap_ttls(QueryContext& ctx, wire::Message& r) const {
    // Gateway's maximum DNS TTL: upstream answers of allowed queries only (reference §3);
    // the account's cap, unless the location disables or overrides it.
    const std::uint32_t account = ctx.policy ? ctx.policy->account_max_ttl : 0;
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

void Pipeline::answer_error(QueryContext& ctx, std::uint16_t rc) {
    wire::Message r = wire::make_response(*ctx.query, rc, config_.udp_payload);
    if (rc == wire::rcode::FormErr && ctx.query->question.size() != 1) {
        r.question.clear();
    }
    r.set_flag(wire::kFlagRa, true);
    if (rc == wire::rcode::BadVers && r.edns) {
        r.edns->version = 0;
    }
    if (rc == wire::rcode::ServFail && ctx.upstream_error && ctx.query->edns) {
        // RFC 8914 §4.22/4.23: 22 No Reachable Authority for timeouts, 23 Network Error else.
        const std::uint16_t code = ctx.upstream_error->code == Errc::UpstreamTimeout ? 22 : 23;
        std::string text = ctx.upstream_error->detail;
        if (text.size() > 200) {
            text.resize(200);
        }
        r.add_ede(code, text);
    }
    ctx.response = std::move(r);
}

std::size_t Pipeline::response_limit(const QueryContext& ctx) const {
    if (!ctx.transport.datagram) {
        return 65535;
    }
    // RFC 6891 §6.2.3/§6.2.5: the requestor's size, never below 512; 512 without EDNS.
    if (ctx.query && ctx.query->edns) {
        return std::max<std::size_t>(512, ctx.query->edns->udp_size);
    }
    return 512;
}

void Pipeline::finish(QueryContext& ctx, Verdict verdict) {
    io::Reply reply;
    if (verdict == Verdict::Drop || !ctx.response) {
        reply.dropped = true;
    } else {
        reply.wire = wire::serialize(*ctx.response, response_limit(ctx));
        ctx.response_size = reply.wire.size();
        ctx.truncated = reply.wire.size() > 3 && (reply.wire[2] & 0x02) != 0;
        for (const auto& e : ctx.response->edes()) {
            ctx.ede_codes.push_back(e.code);
        }
        if (ctx.response->rcode() == wire::rcode::ServFail) {
            ++counters_.servfail;
        }
        reply.upstream_timeout =
            ctx.upstream_error && ctx.upstream_error->code == Errc::UpstreamTimeout;
        std::uint32_t min_ttl = UINT32_MAX;
        for (const auto& rr : ctx.response->answer) {
            min_ttl = std::min(min_ttl, rr.ttl);
        }
        reply.min_ttl = min_ttl == UINT32_MAX ? 0 : min_ttl;
        ++counters_.answered;
    }
    if (ctx.reply) {
        auto fn = std::move(ctx.reply);
        fn(std::move(reply));
    }
    log_query(ctx);
    in_flight_.erase(ctx.id); // destroys ctx: nothing may touch it after this line
}

void Pipeline::log_query(const QueryContext& ctx) {
    if (log_ == nullptr) {
        return;
    }
    log_->write(render_log_record(ctx));
}

} // namespace resolver::pipeline
