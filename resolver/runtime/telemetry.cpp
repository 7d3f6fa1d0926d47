// SPDX-License-Identifier: MIT
#include "resolver/runtime/telemetry.hpp"

#include <unistd.h>

#include <algorithm>

#include "resolver/io/udp_listener.hpp"

namespace resolver::runtime {

Result<std::unique_ptr<Telemetry>>
Telemetry::create(uv_loop_t* serving_loop, const config::Config& cfg, const core::Clock& clock) {
    std::unique_ptr<Telemetry> t(new Telemetry(serving_loop, clock));
    t->metrics_url_ = cfg.metrics;
    // Every worker's counters exist before any worker runs: worker threads read this vector
    // (meter() for a policy route's upstream) while no one grows it.
    for (unsigned i = 0; i < std::max(cfg.workers, 1U); ++i) {
        t->loops_.push_back(std::make_unique<Loop>());
    }
    if (!cfg.dnstap.empty()) {
        auto w = telemetry::DnstapWriter::open(cfg.dnstap, std::max(cfg.workers, 1U));
        if (!w) {
            return w.error();
        }
        t->dnstap_ = std::move(w).value();
        // dnstap's identity is "typically the same string as returned by an NSID query"
        // (dnstap.proto): the host name, as Unbound and Knot Resolver send by default.
        char host[256] = {};
        gethostname(host, sizeof host - 1);
        t->identity_ = host;
    }
    return t;
}

Telemetry::~Telemetry() {
    stop();
}

Telemetry::Loop& Telemetry::loop_of(unsigned worker) {
    return *loops_.at(worker); // create() made one per worker
}

upstream::UpstreamPtr Telemetry::meter(upstream::UpstreamPtr up, unsigned worker) {
    if (!metrics_on()) {
        return up;
    }
    return std::make_unique<telemetry::MeteredUpstream>(std::move(up), loop_of(worker).upstreams,
                                                        clock_);
}

Status Telemetry::attach(unsigned worker, uv_loop_t* loop, pipeline::Pipeline& pipeline,
                         const cache::Cache* cache, const std::vector<io::ListenerPtr>& listeners,
                         Bridge bridge) {
    Loop& l = loop_of(worker);
    if (dnstap_) {
        l.dnstap = std::make_unique<telemetry::DnstapObserver>(
            *dnstap_, dnstap_->queue(worker), clock_, identity_,
            std::string("dnslab-resolver ") + kVersion);
        pipeline.add_observer(*l.dnstap);
    }
    if (!metrics_on()) {
        return ok();
    }
    pipeline.add_observer(l.metrics);
    // The loop's sources: each adds (+=) what its loop counted, so loops sum up. It runs on
    // the worker's own thread (the bridge), so the per-loop counters stay plain integers;
    // the serving loop waits meanwhile, so `s` has one writer at a time.
    (void)loop;
    auto source = [&l, &pipeline, cache, &listeners, worker](telemetry::Scrape& s) {
        s.queries.merge(l.metrics.stats());
        const auto& c = pipeline.counters();
        auto& p = s.pipeline;
        p.received += c.received;
        s.cache.resent += c.resent; // per worker: each pipeline keeps its own resent answers
        p.answered += c.answered;
        p.dropped_short += c.dropped_short;
        p.dropped_response += c.dropped_response;
        p.dropped_stage += c.dropped - c.dropped_short - c.dropped_response;
        p.overloaded += c.overloaded;
        p.upstream_errors += c.upstream_errors;
        p.in_flight += pipeline.in_flight();
        p.waiting += pipeline.waiting();
        if (s.workers.size() <= worker) {
            s.workers.resize(worker + 1);
        }
        telemetry::WorkerStats& w = s.workers[worker];
        w.received = c.received;
        w.answered = c.answered;
        w.dropped = c.dropped;
        w.in_flight = pipeline.in_flight();
        w.waiting = pipeline.waiting();
        if (cache != nullptr) {
            const auto& cs = cache->stats();
            s.cache.hits += cs.hits;
            s.cache.misses += cs.misses;
            s.cache.inserts += cs.inserts;
            s.cache.evictions += cs.evictions;
            s.cache.expired += cs.expired;
            s.cache.entries += cache->size();
        }
        for (const auto& [url, u] : l.upstreams.all()) {
            s.upstreams[url].merge(u);
        }
        for (const auto& listener : listeners) {
            if (const auto* udp = dynamic_cast<const io::UdpListener*>(listener.get())) {
                const io::UdpCounters& uc = udp->udp_counters();
                p.received += uc.dropped(); // read, then dropped before the pipeline
                p.dropped_short += uc.short_header;
                p.dropped_own_address += uc.own_address;
                p.dropped_oversized += uc.oversized;
                w.received += uc.dropped();
                w.dropped += uc.dropped();
            }
            const io::ListenerCounters* lc = listener->counters();
            auto scheme = util::parse_url(listener->url());
            auto t = scheme ? net::transport_from_name(scheme->scheme) : std::nullopt;
            if (lc == nullptr || !t) {
                continue;
            }
            const auto i = static_cast<std::size_t>(*t);
            s.listeners.handshakes[i] += lc->tls_handshakes;
            s.listeners.handshake_failures[i] += lc->tls_handshake_failures;
            for (const auto& [status, n] : lc->http_status) {
                s.listeners.http_status[status] += n;
            }
        }
        if (l.dnstap) {
            l.dnstap->add_to(s.dnstap);
        }
    };
    return registry_.add(loop_, [source = std::move(source), bridge = std::move(bridge)](
                                    telemetry::Scrape& s) { bridge([&] { source(s); }); });
}

Result<std::string> Telemetry::start_server() {
    if (!metrics_on()) {
        return std::string();
    }
    (void)registry_.add(loop_, [this](telemetry::Scrape& s) { s.policy = policy_; });
    auto url = util::parse_url(metrics_url_);
    if (!url) {
        return fail(Errc::ConfigInvalid, "metrics " + url.error().detail);
    }
    auto server =
        telemetry::MetricsServer::create(loop_, *url, [this] { return registry_.render(); });
    if (!server) {
        return server.error();
    }
    server_ = std::move(server).value();
    return "metrics " + server_->url();
}

void Telemetry::policy_loaded(const stages::PolicySnapshot& snap, double seconds, bool reload) {
    policy_.generation = snap.generation;
    policy_.load_seconds = seconds;
    policy_.warnings = snap.set->warnings.size();
    policy_.rules = snap.set->dns_rules.size() + snap.set->resolver_rules.size();
    policy_.loaded_at_unix_seconds =
        std::chrono::duration<double>(clock_.wall().time_since_epoch()).count();
    if (reload) {
        ++policy_.reloads_ok;
    }
}

void Telemetry::stop() {
    if (server_) {
        server_->stop();
        server_.reset();
    }
}

} // namespace resolver::runtime
