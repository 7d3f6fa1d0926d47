// SPDX-License-Identifier: MIT
#include "resolver/telemetry/scrape.hpp"

#include "resolver/policy/evaluate.hpp"
#include "resolver/wire/message.hpp"

namespace resolver::telemetry {

void QueryStats::merge(const QueryStats& o) {
    for (std::size_t t = 0; t < kTransportCount; ++t) {
        for (std::size_t r = 0; r < answered[t].size(); ++r) {
            answered[t][r] += o.answered[t][r];
        }
        dropped[t] += o.dropped[t];
        duration[t].merge(o.duration[t]);
    }
    for (std::size_t i = 0; i < decisions.size(); ++i) {
        decisions[i] += o.decisions[i];
    }
    for (const auto& [name, n] : o.locations) {
        locations[name] += n;
    }
    for (std::size_t i = 0; i < formerr.size(); ++i) {
        formerr[i] += o.formerr[i];
    }
}

void UpstreamStats::merge(const UpstreamStats& o) {
    queries += o.queries;
    timeouts += o.timeouts;
    errors += o.errors;
    in_flight += o.in_flight;
    duration.merge(o.duration);
}

namespace {
using net::transport_name;

std::string_view proto(std::size_t t) {
    return transport_name(static_cast<net::Transport>(t));
}

void render_queries(Exposition& e, const Scrape& s) {
    const auto& q = s.queries;
    e.family("dnslab_queries_total", "counter",
             "Client queries answered, by transport and response code.");
    for (std::size_t t = 0; t < kTransportCount; ++t) {
        for (std::size_t r = 0; r < q.answered[t].size(); ++r) {
            // NOERROR is always there, so a rate() over a quiet transport reads 0, not nothing.
            if (q.answered[t][r] == 0 && r != 0) {
                continue;
            }
            const std::string rc =
                r < kRcodeSlots ? wire::rcode_name(static_cast<std::uint16_t>(r)) : "other";
            e.sample("dnslab_queries_total", {{"protocol", proto(t)}, {"rcode", rc}},
                     q.answered[t][r]);
        }
    }
    e.family("dnslab_queries_unanswered_total", "counter",
             "Client queries that got past the screen and were finished without an answer.");
    for (std::size_t t = 0; t < kTransportCount; ++t) {
        e.sample("dnslab_queries_unanswered_total", {{"protocol", proto(t)}}, q.dropped[t]);
    }
    e.family("dnslab_query_duration_seconds", "histogram",
             "Time from receiving a query to having its answer, by transport.");
    for (std::size_t t = 0; t < kTransportCount; ++t) {
        e.histogram("dnslab_query_duration_seconds", {{"protocol", proto(t)}}, q.duration[t]);
    }
    e.family("dnslab_resolver_decisions_total", "counter",
             "Queries by Gateway ResolverDecision (the query log's ResolverDecision field).");
    for (std::size_t d = 0; d < q.decisions.size(); ++d) {
        e.sample("dnslab_resolver_decisions_total",
                 {{"decision", policy::decision_name(static_cast<policy::ResolverDecision>(d))}},
                 q.decisions[d]);
    }
    e.family("dnslab_location_queries_total", "counter",
             "Queries by Gateway location name; location=\"\" when no location matched.");
    for (const auto& [name, n] :
         std::map<std::string, std::uint64_t>(q.locations.begin(), q.locations.end())) {
        e.sample("dnslab_location_queries_total", {{"location", name}}, n);
    }
    e.family("dnslab_formerr_total", "counter", "FORMERR responses sent, by reason.");
    for (std::size_t i = 0; i < q.formerr.size(); ++i) {
        e.sample("dnslab_formerr_total", {{"reason", kFormErrReasons[i]}}, q.formerr[i]);
    }
}

void render_pipeline(Exposition& e, const PipelineStats& p) {
    e.family("dnslab_received_total", "counter",
             "Messages handed to the pipeline by the listeners, garbage included.");
    e.sample("dnslab_received_total", {}, p.received);
    e.family("dnslab_dropped_total", "counter",
             "Messages not answered, by reason: short_header and response are screened before "
             "any work (UDP short datagrams by the listener, before any allocation); "
             "own_address: UDP datagrams from the listener's own address and port (a "
             "reflection loop); oversized: UDP datagrams over 64 KiB; stage means a stage "
             "dropped the query (logged).");
    e.sample("dnslab_dropped_total", {{"reason", "short_header"}}, p.dropped_short);
    e.sample("dnslab_dropped_total", {{"reason", "response"}}, p.dropped_response);
    e.sample("dnslab_dropped_total", {{"reason", "own_address"}}, p.dropped_own_address);
    e.sample("dnslab_dropped_total", {{"reason", "oversized"}}, p.dropped_oversized);
    e.sample("dnslab_dropped_total", {{"reason", "stage"}}, p.dropped_stage);
    e.family("dnslab_overloaded_total", "counter",
             "Queries answered SERVFAIL at once because resolver.max_waiting_queries were "
             "already waiting for upstreams.");
    e.sample("dnslab_overloaded_total", {}, p.overloaded);
    e.family("dnslab_upstream_exchange_failures_total", "counter",
             "Upstream exchanges of client queries that failed after failover.");
    e.sample("dnslab_upstream_exchange_failures_total", {}, p.upstream_errors);
    e.family("dnslab_queries_in_flight", "gauge", "Client queries being worked on.");
    e.sample("dnslab_queries_in_flight", {}, p.in_flight);
    e.family("dnslab_queries_waiting_upstream", "gauge",
             "Client queries waiting for an upstream answer (capped by "
             "resolver.max_waiting_queries).");
    e.sample("dnslab_queries_waiting_upstream", {}, p.waiting);
}

void render_workers(Exposition& e, const std::vector<WorkerStats>& ws) {
    // Per-worker families beside the process totals above (not a `worker` label on those:
    // sum() over the split families gives the totals, and existing queries keep working).
    const std::pair<const char*, const char*> families[] = {
        {"dnslab_worker_received_total", "Messages a worker loop's listeners handed it."},
        {"dnslab_worker_queries_total", "Client queries a worker loop answered."},
        {"dnslab_worker_dropped_total",
         "Messages a worker loop did not answer (screened, dropped by a stage, or finished "
         "without an answer)."},
        {"dnslab_worker_queries_in_flight", "Client queries a worker loop is working on."},
        {"dnslab_worker_queries_waiting_upstream",
         "Client queries of a worker loop waiting for an upstream answer."},
    };
    for (std::size_t f = 0; f < std::size(families); ++f) {
        const std::string_view name = families[f].first;
        e.family(name, f < 3 ? "counter" : "gauge", families[f].second);
        for (std::size_t i = 0; i < ws.size(); ++i) {
            const WorkerStats& w = ws[i];
            const std::uint64_t v[] = {w.received, w.answered, w.dropped, w.in_flight, w.waiting};
            e.sample(name, {{"worker", std::to_string(i)}}, v[f]);
        }
    }
}

void render_cache(Exposition& e, const CacheTotals& c) {
    const std::pair<const char*, std::uint64_t> counters[] = {
        {"hits", c.hits},           {"misses", c.misses},   {"inserts", c.inserts},
        {"evictions", c.evictions}, {"expired", c.expired},
    };
    for (const auto& [what, n] : counters) {
        const std::string name = std::string("dnslab_cache_") + what + "_total";
        e.family(name, "counter", std::string("Answer cache ") + what + ".");
        e.sample(name, {}, n);
    }
    e.family("dnslab_cache_hits_resent_total", "counter",
             "Cache hits answered with the bytes last sent for the same query (no query log).");
    e.sample("dnslab_cache_hits_resent_total", {}, c.resent);
    e.family("dnslab_cache_entries", "gauge", "Entries in the answer cache.");
    e.sample("dnslab_cache_entries", {}, c.entries);
}

void render_upstreams(Exposition& e, const std::map<std::string, UpstreamStats>& ups) {
    e.family("dnslab_upstream_queries_total", "counter", "Queries sent, by upstream server.");
    for (const auto& [url, u] : ups) {
        e.sample("dnslab_upstream_queries_total", {{"upstream", url}}, u.queries);
    }
    e.family("dnslab_upstream_failures_total", "counter",
             "Failed exchanges by upstream server and reason (timeout, or error: refused, "
             "TLS, HTTP, SERVFAIL/REFUSED).");
    for (const auto& [url, u] : ups) {
        e.sample("dnslab_upstream_failures_total", {{"upstream", url}, {"reason", "timeout"}},
                 u.timeouts);
        e.sample("dnslab_upstream_failures_total", {{"upstream", url}, {"reason", "error"}},
                 u.errors);
    }
    e.family("dnslab_upstream_in_flight", "gauge", "Exchanges waiting for an answer.");
    for (const auto& [url, u] : ups) {
        e.sample("dnslab_upstream_in_flight", {{"upstream", url}}, u.in_flight);
    }
    e.family("dnslab_upstream_duration_seconds", "histogram",
             "Time from send to answer of successful exchanges, by upstream server.");
    for (const auto& [url, u] : ups) {
        e.histogram("dnslab_upstream_duration_seconds", {{"upstream", url}}, u.duration);
    }
}

void render_listeners(Exposition& e, const ListenerStats& l) {
    e.family("dnslab_tls_handshakes_total", "counter",
             "TLS handshakes on DoT and DoH listeners; result=\"failed\" counts connections "
             "closed before a completed handshake.");
    for (const auto& row : net::kTransports) {
        if (!row.encrypted) {
            continue;
        }
        const auto t = static_cast<std::size_t>(row.transport);
        e.sample("dnslab_tls_handshakes_total", {{"protocol", row.name}, {"result", "ok"}},
                 l.handshakes[t]);
        e.sample("dnslab_tls_handshakes_total", {{"protocol", row.name}, {"result", "failed"}},
                 l.handshake_failures[t]);
    }
    e.family("dnslab_http_responses_total", "counter",
             "HTTP responses of the DoH listeners (HTTP/2 and HTTP/1.1), by status.");
    for (const auto& [status, n] : l.http_status) {
        e.sample("dnslab_http_responses_total", {{"status", std::to_string(status)}}, n);
    }
}

void render_policy(Exposition& e, const PolicyStats& p) {
    e.family("dnslab_policy_generation", "gauge",
             "Generation of the policy in force (LabPolicyGeneration in the log).");
    e.sample("dnslab_policy_generation", {}, p.generation);
    e.family("dnslab_policy_load_duration_seconds", "gauge",
             "How long the load of the policy in force took.");
    e.sample("dnslab_policy_load_duration_seconds", {}, p.load_seconds);
    e.family("dnslab_policy_load_warnings", "gauge",
             "Warnings the load of the policy in force printed.");
    e.sample("dnslab_policy_load_warnings", {}, p.warnings);
    e.family("dnslab_policy_rules", "gauge", "Rules in the policy in force.");
    e.sample("dnslab_policy_rules", {}, p.rules);
    e.family("dnslab_policy_loaded_timestamp_seconds", "gauge",
             "When the policy in force was loaded (Unix time).");
    e.sample("dnslab_policy_loaded_timestamp_seconds", {}, p.loaded_at_unix_seconds);
    e.family("dnslab_policy_reloads_total", "counter",
             "SIGHUP policy reloads; a failed one keeps the policy in force.");
    e.sample("dnslab_policy_reloads_total", {{"result", "ok"}}, p.reloads_ok);
    e.sample("dnslab_policy_reloads_total", {{"result", "failed"}}, p.reloads_failed);
}

void render_dnstap(Exposition& e, const DnstapStats& d) {
    if (!d.enabled) {
        return;
    }
    e.family("dnslab_dnstap_frames_total", "counter",
             "dnstap frames handed to the Frame Streams I/O thread.");
    e.sample("dnslab_dnstap_frames_total", {}, d.frames);
    e.family("dnslab_dnstap_dropped_total", "counter",
             "dnstap frames dropped, by reason (queue_full: the writer fell behind).");
    e.sample("dnslab_dnstap_dropped_total", {{"reason", "queue_full"}}, d.queue_full);
    e.sample("dnslab_dnstap_dropped_total", {{"reason", "encode"}}, d.encode_failures);
}
} // namespace

std::string render(const Scrape& s, std::string_view version) {
    Exposition e;
    e.family("dnslab_build_info", "gauge", "Always 1; the version is a label.");
    e.sample("dnslab_build_info", {{"version", version}}, std::uint64_t{1});
    render_queries(e, s);
    render_pipeline(e, s.pipeline);
    render_workers(e, s.workers);
    render_cache(e, s.cache);
    render_upstreams(e, s.upstreams);
    render_listeners(e, s.listeners);
    render_policy(e, s.policy);
    render_dnstap(e, s.dnstap);
    return e.take();
}

} // namespace resolver::telemetry
