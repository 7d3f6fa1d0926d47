// SPDX-License-Identifier: MIT
#include "resolver/pipeline/pipeline.hpp"

#include <memory>

#include "resolver/log/query_record.hpp"

namespace resolver::pipeline {

Pipeline::Pipeline(PipelineConfig config, upstream::Upstream& default_upstream, cache::Cache& cache,
                   log::QueryLog* log, UpstreamMaker make_upstream, const core::Clock& clock,
                   core::Rng& rng)
    : config_(config), default_upstream_(default_upstream), log_(log),
      make_upstream_(std::move(make_upstream)), runner_([&] {
          stages::Environment env;
          env.cache = config.cache_enabled ? &cache : nullptr;
          env.decisions = config.cache_enabled ? &decisions_ : nullptr;
          env.config = config.stages;
          env.clock = &clock;
          env.rng = &rng;
          env.scratch = &eval_scratch_;
          env.resent = log == nullptr ? &resent_ : nullptr; // the log renders every message
          env.wall_from_steady = dynamic_cast<const core::SystemClock*>(&clock) != nullptr;
          return env;
      }()),
      next_id_(config.first_query_id) {}

Pipeline::~Pipeline() {
    *alive_ = false;
}

void Pipeline::handle(std::span<const std::uint8_t> wire, io::TransportInfo&& info,
                      io::ReplyFn reply) {
    ++counters_.received;
    // Garbage and responses cost a counter, not a context or a log line: a burst of them
    // must not starve good queries.
    if (auto why = stages::screen(wire)) {
        ++counters_.dropped;
        ++(wire.size() < 12 ? counters_.dropped_short : counters_.dropped_response);
        io::Reply dropped;
        dropped.dropped = true;
        reply(std::move(dropped));
        return;
    }
    const stages::QueryId id = next_id_++;
    InFlightTable::node_type node;
    if (!spare_.empty()) {
        node = std::move(spare_.back());
        spare_.pop_back();
        node.key() = id;
    } else {
        node = in_flight_.extract(in_flight_.emplace(id, std::make_unique<InFlight>()).first);
    }
    InFlight& q = *node.mapped();
    q.ctx.id = id;
    q.ctx.transport = std::move(info);
    q.reply = std::move(reply);
    if (q.ctx.wire_out.capacity() == 0 && !spare_wire_.empty()) {
        q.ctx.wire_out = std::move(spare_wire_.back()); // empty, with room for an answer
        spare_wire_.pop_back();
    }
    const stages::Step step = runner_.start(q.ctx, wire);
    for (QueryObserver* o : observers_) {
        o->on_client_query(q.ctx, wire);
    }
    if (step == stages::Step::Done) {
        // Answered at once (cache hit, local answer, error): the query never waits, so it
        // never enters the table of queries in flight.
        complete(q);
        recycle(std::move(node));
        return;
    }
    InFlight& waiting = *in_flight_.insert(std::move(node)).position->second;
    // A plain store (one writer): no read-modify-write on the hot path.
    in_flight_published_.store(in_flight_.size(), std::memory_order_relaxed);
    dispatch(waiting);
}

void Pipeline::reclaim(std::vector<std::uint8_t> sent) {
    if (spare_wire_.size() < kSpareBuffers && sent.capacity() != 0) {
        sent.clear();
        spare_wire_.push_back(std::move(sent));
    }
}

void Pipeline::advance(InFlight& q, stages::Step step) {
    if (step == stages::Step::Done) {
        finish(q);
        return;
    }
    dispatch(q);
}

upstream::Upstream* Pipeline::upstream_for(const stages::QueryContext& ctx) {
    // The stages chose the upstreams (route()); here they are only built, once per key.
    const stages::UpstreamRequest& req = *ctx.upstream_request;
    if (req.urls.empty()) {
        return &default_upstream_;
    }
    if (auto it = route_upstreams_.find(req.route_key); it != route_upstreams_.end()) {
        return it->second.get();
    }
    if (!make_upstream_) {
        return nullptr;
    }
    auto up = make_upstream_(req.urls, req.prefer_fastest);
    if (!up) {
        return nullptr;
    }
    return route_upstreams_.emplace(req.route_key, std::move(up).value()).first->second.get();
}

void Pipeline::dispatch(InFlight& q) {
    stages::QueryContext& ctx = q.ctx;
    if (waiting_ >= config_.max_waiting) {
        ++counters_.overloaded;
        advance(q, runner_.resume(
                       ctx, fail(Errc::Overloaded, std::to_string(waiting_) +
                                                       " queries already wait for upstreams (limit "
                                                       "resolver.max_waiting_queries)")));
        return;
    }
    upstream::Upstream* up = upstream_for(ctx);
    if (up == nullptr) {
        advance(q, runner_.resume(
                       ctx, fail(Errc::UpstreamFailure, "no upstream for route " + ctx.route)));
        return;
    }
    ++waiting_;
    if (!observers_.empty()) {
        q.upstream = up;
        q.sent_at = runner_.env().clock->now();
        for (QueryObserver* o : observers_) {
            o->on_forwarder_query(ctx, *up);
        }
    }
    const stages::QueryId id = ctx.id;
    std::weak_ptr<bool> alive = alive_;
    up->send(ctx.upstream_request->wire, [this, alive, id](Result<upstream::Exchange> r) {
        if (alive.expired()) {
            return; // the pipeline is gone (shutdown): nobody to answer
        }
        on_upstream(id, std::move(r));
    });
}

void Pipeline::on_upstream(stages::QueryId id, Result<upstream::Exchange> result) {
    auto it = in_flight_.find(id);
    if (it == in_flight_.end()) {
        return; // a late answer for a query that is gone: harmless
    }
    --waiting_;
    InFlight& q = *it->second;
    if (q.upstream != nullptr) {
        for (QueryObserver* o : observers_) {
            o->on_forwarder_response(q.ctx, *q.upstream, result, q.sent_at);
        }
    }
    if (!result) {
        ++counters_.upstream_errors;
        advance(q, runner_.resume(q.ctx, result.error()));
        return;
    }
    advance(q, runner_.resume(q.ctx, stages::UpstreamAnswer{std::move(result->wire),
                                                            std::move(result->server)}));
}

void Pipeline::count(const stages::QueryContext& ctx) {
    if (ctx.disposition != stages::Disposition::Answered) {
        ++counters_.dropped;
        return;
    }
    ++counters_.answered;
    if (ctx.source == stages::AnswerSource::Cache) {
        ++counters_.cache_hits;
        counters_.resent += ctx.resent ? 1 : 0;
    }
    switch (ctx.rcode) {
    case wire::rcode::FormErr:
        ++counters_.formerr;
        break;
    case wire::rcode::NotImp:
        ++counters_.notimp;
        break;
    case wire::rcode::Refused:
        ++counters_.refused;
        break;
    case wire::rcode::ServFail:
        ++counters_.servfail;
        break;
    default:
        break;
    }
}

void Pipeline::complete(InFlight& q) {
    stages::QueryContext& ctx = q.ctx;
    count(ctx);
    io::Reply reply;
    if (ctx.disposition == stages::Disposition::Answered) {
        reply.wire = std::move(ctx.wire_out); // sent once; the log reads the message
        reply.upstream_timeout =
            ctx.upstream_error && ctx.upstream_error->code == Errc::UpstreamTimeout;
        reply.min_ttl = ctx.min_ttl;
    } else {
        reply.dropped = true;
    }
    for (QueryObserver* o : observers_) {
        o->on_client_response(ctx, reply.wire);
    }
    if (q.reply) {
        auto fn = std::move(q.reply);
        fn(std::move(reply));
    }
    if (log_ != nullptr) {
        log_->write(log::render_query_record(ctx));
    }
}

void Pipeline::finish(InFlight& q) {
    complete(q);
    // Nothing may touch q after this line.
    recycle(in_flight_.extract(q.ctx.id));
    in_flight_published_.store(in_flight_.size(), std::memory_order_relaxed);
}

void Pipeline::recycle(InFlightTable::node_type node) {
    if (node.empty() || spare_.size() >= kSpareNodes) {
        return;
    }
    // Everything the query held (its policy snapshot, decision, messages) is released now;
    // node and InFlight are kept for the next query, the context rebuilt in place with only
    // its storage kept (stages::reuse).
    InFlight& slot = *node.mapped();
    stages::reuse(slot.ctx);
    slot.reply = io::ReplyFn{};
    slot.upstream = nullptr;
    slot.sent_at = {};
    spare_.push_back(std::move(node));
}

} // namespace resolver::pipeline
