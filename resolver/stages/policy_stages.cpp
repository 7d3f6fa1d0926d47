// SPDX-License-Identifier: MIT
// Attribution and the two policy phases (Gateway's order: pre-resolution DNS rules, resolver
// rules, resolution, post-resolution DNS rules).
#include "resolver/stages/stage.hpp"

namespace resolver::stages {
namespace {

policy::EvalOptions eval_options(const QueryContext& ctx, const Environment& env) {
    policy::EvalOptions opt;
    opt.now = std::chrono::duration_cast<std::chrono::seconds>(ctx.received_wall.time_since_epoch())
                  .count();
    opt.scratch = env.scratch;
    opt.trace = env.trace;
    return opt;
}

policy::QueryFacts facts_of(const QueryContext& ctx) {
    policy::QueryFacts f;
    f.qname = ctx.qname_text;
    f.qtype = ctx.query->question[0].qtype;
    f.src_ip = ctx.src_ip;
    f.dst_ip = ctx.dst_ip;
    f.src_internal_ip = ctx.src_internal_ip;
    f.location = ctx.location.location;
    f.doh_subdomain = ctx.location.doh_subdomain;
    f.identity_token = ctx.transport.http_authorization;
    f.request_categories = ctx.request_categories;
    f.query_id = ctx.id;
    return f;
}

} // namespace

void attribute(QueryContext& ctx) {
    const net::TransportInfo& t = ctx.transport;
    // Binary from the listener: nothing to parse.
    ctx.src_ip = t.src.ip;
    ctx.dst_ip = t.dst.ip;
    // Private on-ramp traffic (a listener marked internal, explain --src-internal-ip).
    ctx.src_internal_ip = t.src_internal_ip;
    attribution::AttributionInput in;
    in.transport = t.protocol;
    in.src = ctx.src_ip;
    in.dst = ctx.dst_ip;
    in.sni = t.sni;
    in.http_host = t.http_host;
    in.http_path = t.http_path;
    in.http_location = t.http_location;
    if (ctx.edns_location) {
        in.edns_location = *ctx.edns_location;
    }
    ctx.location =
        attribution::attribute(ctx.policy->set->locations, in, ctx.policy->behaviour.attribution());
}

Next pre_policy(QueryContext& ctx, const Environment& env) {
    const PolicySnapshot& p = *ctx.policy;
    ctx.facts = facts_of(ctx); // ctx never moves while the query runs: the views stay valid
    const auto opt = eval_options(ctx, env);
    DecisionCache* decisions = env.trace ? nullptr : env.decisions; // a trace needs every rule
    if (decisions != nullptr) {
        ctx.decision = decisions->find(ctx, opt.now);
    }
    if (ctx.decision) {
        ctx.evaluation = ctx.decision->pre;
    } else {
        auto ev = std::make_shared<const policy::Evaluation>(
            policy::evaluate_pre(*p.set, ctx.facts, p.behaviour, opt));
        ctx.evaluation = ev;
        if (decisions != nullptr) {
            ctx.decision = decisions->insert(ctx, std::move(ev), opt.now);
        }
    }
    if (ctx.evaluation->needs_resolution()) {
        return Next::Continue;
    }
    auto synth = policy::synthesize(*ctx.query, *ctx.evaluation, p.behaviour);
    if (!synth) {
        return Next::Continue; // e.g. safe search for a name that is no search engine
    }
    ctx.source = AnswerSource::Local;
    ctx.synth = std::move(synth);
    if (ctx.synth->pending_target) {
        return Next::NeedUpstream; // override_host / safe search: resolve the target
    }
    ctx.response = ctx.synth->message;
    return Next::Answer;
}

Next post_policy(QueryContext& ctx, const Environment& env) {
    if (!ctx.evaluation || ctx.evaluation->finished) {
        return Next::Continue;
    }
    const PolicySnapshot& p = *ctx.policy;
    Decision* d = ctx.decision.get();
    if (d != nullptr && d->post && ctx.upstream_serial != 0 &&
        d->upstream_serial == ctx.upstream_serial) {
        ctx.evaluation = d->post; // the same cached answer as last time: the same verdict
    } else {
        auto post = std::make_shared<policy::Evaluation>(*ctx.evaluation);
        policy::evaluate_post(*p.set, ctx.facts,
                              env.scratch != nullptr
                                  ? env.scratch->response_facts(*ctx.upstream_answer)
                                  : policy::EvalScratch().response_facts(*ctx.upstream_answer),
                              p.behaviour, eval_options(ctx, env), *post);
        ctx.evaluation = post;
        if (d != nullptr && ctx.upstream_serial != 0) {
            d->upstream_serial = ctx.upstream_serial;
            d->post = std::move(post);
        }
    }
    if (ctx.evaluation->needs_resolution()) {
        return Next::Continue;
    }
    auto synth = policy::synthesize(*ctx.query, *ctx.evaluation, p.behaviour);
    if (!synth || synth->pending_target) {
        // Override-type actions cannot use post-resolution fields (the loader rejects such
        // rules), so only blocks arrive here.
        return Next::Continue;
    }
    ctx.synth = std::move(synth);
    ctx.response = ctx.synth->message;
    return Next::Answer;
}

} // namespace resolver::stages
