// SPDX-License-Identifier: MIT
// The order of Gateway's phases, written once.
#include "resolver/stages/runner.hpp"

#include "resolver/stages/stage.hpp"

namespace resolver::stages {

Step StageRunner::start(QueryContext& ctx, std::span<const std::uint8_t> wire) {
    ctx.received_at = env_.clock->now();
    ctx.received_wall =
        env_.wall_from_steady ? wall_.at(*env_.clock, ctx.received_at) : env_.clock->wall();
    ctx.query_size = wire.size();
    ctx.policy = env_.policy; // pinned: a reload never changes the rules under this query
    if (env_.resent != nullptr && env_.cache != nullptr && !env_.trace &&
        env_.resent->answer(ctx, wire, *env_.cache)) {
        return finish(ctx); // the bytes last sent for this very query, with its ID
    }
    switch (decode(ctx, wire, env_.config)) {
    case Next::Continue:
        return continue_after_decode(ctx, wire);
    case Next::Drop:
        ctx.disposition = Disposition::Dropped;
        return finish(ctx);
    default:
        return finish(ctx);
    }
}

Step StageRunner::continue_after_decode(QueryContext& ctx, std::span<const std::uint8_t> wire) {
    attribute(ctx);
    const Next pre = pre_policy(ctx, env_); // may answer locally
    route(ctx);                             // resolver rules picked the route in pre_policy
    choose_client_subnet(ctx);
    const auto& question = ctx.query->question[0];
    if (pre != Next::Answer && ctx.route_error) {
        ctx.upstream_error = ctx.route_error; // a private resolver the lab cannot reach
        answer_error(ctx, wire::rcode::ServFail, env_.config);
        return finish(ctx);
    }
    switch (pre) {
    case Next::Answer:
        return finish(ctx);
    case Next::NeedUpstream: {
        // The override / safe-search detour: resolve the target, same type and class, along
        // the route; the answer completes the local answer (no cache, no post-policy).
        const wire::Question target{*ctx.synth->pending_target, question.qtype, question.qclass};
        return ask_upstream(ctx, UpstreamRequest::Purpose::Target, target);
    }
    default:
        break;
    }
    if (cache_lookup(ctx, env_) == Next::Answer) {
        const Step step = after_upstream_truth(ctx); // post-resolution rules run on hits too
        remember_sent(ctx, env_, wire);
        return step;
    }
    return ask_upstream(ctx, UpstreamRequest::Purpose::Answer, question);
}

Step StageRunner::ask_upstream(QueryContext& ctx, UpstreamRequest::Purpose purpose,
                               const wire::Question& question) {
    ctx.upstream_request = upstream_request(ctx, env_, purpose, question);
    return Step::NeedUpstream;
}

Step StageRunner::resume(QueryContext& ctx, Result<UpstreamAnswer> answer) {
    auto message = accept_upstream(ctx, std::move(answer));
    note_exchange(ctx, env_, message ? &*message : nullptr);
    if (internal_fallback_due(ctx, message ? &*message : nullptr)) {
        // fallback "public_dns": the same question again, to the default upstream.
        ctx.internal_dns->fallback_applied = "public_dns";
        ctx.upstream_error.reset();
        UpstreamRequest again = upstream_request(ctx, env_, ctx.upstream_request->purpose,
                                                 ctx.upstream_request->question);
        again.urls.clear();
        again.route_key = "default";
        again.prefer_fastest = false;
        again.internal_fallback = true;
        ctx.upstream_request = std::move(again);
        return Step::NeedUpstream;
    }
    if (!message) {
        answer_error(ctx, wire::rcode::ServFail, env_.config);
        return finish(ctx);
    }
    if (ctx.upstream_request->purpose == UpstreamRequest::Purpose::Target) {
        complete_target(ctx, *message);
        return finish(ctx);
    }
    ctx.upstream_answer = std::move(message);
    cache_insert(ctx, env_); // upstream truth, before post-resolution policy
    return after_upstream_truth(ctx);
}

Step StageRunner::after_upstream_truth(QueryContext& ctx) {
    if (post_policy(ctx, env_) != Next::Answer) {
        answer_from_upstream(ctx, env_);
    }
    return finish(ctx);
}

Step StageRunner::finish(QueryContext& ctx) {
    if (ctx.disposition != Disposition::Dropped && ctx.response) {
        serialize_response(ctx, env_.config);
        ctx.disposition = Disposition::Answered;
    } else if (ctx.disposition != Disposition::Dropped && ctx.resent) {
        ctx.disposition = Disposition::Answered; // ResentAnswers::answer wrote wire_out
    } else {
        ctx.disposition = Disposition::Dropped;
    }
    ctx.finished_at = env_.clock->now();
    return Step::Done;
}

} // namespace resolver::stages
