// SPDX-License-Identifier: MIT
#include "probes/check/run.hpp"

#include <algorithm>

#include "probes/session/observe.hpp"
#include "resolver/net/transport.hpp"

namespace probes::check {
namespace net = resolver::net;

namespace {

std::optional<net::Transport> kind_of(const common::Target& t) {
    return net::transport_from_name(t.url.scheme);
}

bool plain_dns(const common::Target& t) {
    const auto k = kind_of(t);
    return k && !net::row(*k).encrypted;
}

} // namespace

bool CheckReport::all_pass() const {
    return !results.empty() && std::all_of(results.begin(), results.end(),
                                           [](const CaseResult& r) { return r.failures.empty(); });
}

bool case_selects(const Case& c, const common::Target& t) {
    return c.transports.empty() ||
           std::find_if(c.transports.begin(), c.transports.end(), [&](const std::string& x) {
               return x == t.transport || x == t.name ||
                      (x == net::transport_name(net::Transport::Https) &&
                       kind_of(t) == net::Transport::Https);
           }) != c.transports.end();
}

common::Target target_for_case(const common::Target& t, const Case& c) {
    common::Target out = t;
    const auto kind = kind_of(t);
    const bool tls = kind && net::row(*kind).encrypted;
    if (tls && !c.sni.empty()) {
        out.url.params["sni"] = c.sni;
    }
    if (kind == net::Transport::Https) {
        if (!c.doh_path.empty()) {
            out.url.path = c.doh_path;
        }
        for (const auto& [k, v] : c.headers) {
            out.url.params["header." + k] = v;
        }
        if (!c.location.empty()) {
            // Gateway's generic DoH endpoint takes the location in this header.
            out.url.params.try_emplace("header.cf-dns-location", c.location);
        }
    }
    if (!tls && !c.source.empty()) {
        out.url.params["source"] = c.source; // the Do53 client binds it (kdig -b)
    }
    return out;
}

LocationPlan plan_location(const Case& c, const common::Target& t,
                           const common::QueryOptions& base) {
    LocationPlan p;
    const std::string over = " over " + t.transport;
    if (!c.source.empty() && !plain_dns(t)) {
        p.cannot = "cannot send from " + c.source + over +
                   ": source= applies to plain DNS; DoT and DoH carry a location in SNI, the DoH "
                   "path or the cf-dns-location header";
        return p;
    }
    if (c.location.empty()) {
        if (!c.source.empty()) {
            p.sent_as = "source " + c.source;
        }
        return p;
    }
    const auto kind = kind_of(t);
    if (kind == net::Transport::Https) {
        const bool in_path = c.doh_path.rfind("/dns-query/", 0) == 0;
        p.sent_as = in_path ? "DoH path " + c.doh_path
                    : c.headers.count("cf-dns-location") != 0U
                        ? "cf-dns-location header " + c.headers.at("cf-dns-location")
                        : "cf-dns-location header";
        return p;
    }
    if (kind == net::Transport::Tls) {
        if (!c.sni.empty()) {
            p.sent_as = "SNI " + c.sni;
        } else if (base.no_edns) {
            p.cannot = "cannot set this location" + over +
                       ": EDNS is off (--no-edns) and no sni= names the location";
            return p;
        }
        p.edns_65011 = !base.no_edns;
        p.sent_as +=
            std::string(p.sent_as.empty() ? "" : " and ") + (p.edns_65011 ? "EDNS 65011" : "");
        return p;
    }
    // Plain DNS (RFC 1035) carries no location of its own: Gateway takes it from the
    // destination address or the source network, and EDNS 65011 only when neither matches.
    if (base.no_edns && c.source.empty()) {
        p.cannot = "cannot set this location" + over +
                   ": plain DNS carries a location only in EDNS 65011 (off: --no-edns) or by the "
                   "source address (give the case source = an address in the location's network)";
        return p;
    }
    p.edns_65011 = !base.no_edns;
    if (!c.source.empty()) {
        p.sent_as = "source " + c.source + (p.edns_65011 ? " and EDNS 65011" : "");
    } else {
        p.sent_as = "EDNS 65011";
    }
    return p;
}

CheckReport run_check(session::ProbeSession& session, const std::vector<common::Target>& targets,
                      const std::vector<Case>& cases, const common::QueryOptions& base,
                      common::PcapWriter* pcap) {
    CheckReport report;
    report.cases = cases;
    std::vector<session::Job> jobs;
    std::vector<common::Target> job_targets;
    std::vector<std::size_t> job_target_index, job_result;
    for (std::size_t ci = 0; ci < cases.size(); ++ci) {
        const auto& c = cases[ci];
        bool any = false;
        for (std::size_t ti = 0; ti < targets.size(); ++ti) {
            if (!case_selects(c, targets[ti])) {
                continue;
            }
            any = true;
            const auto plan = plan_location(c, targets[ti], base);
            auto t = target_for_case(targets[ti], c);
            CaseResult r;
            r.case_index = ci;
            r.target = t.name;
            r.transport = t.transport;
            r.url = t.url;
            r.location_sent_as = plan.sent_as;
            r.source = c.source;
            if (!plan.cannot.empty()) {
                r.failures.push_back(plan.cannot);
                report.results.push_back(std::move(r));
                continue;
            }
            auto qopts = base;
            if (plan.edns_65011) {
                qopts.location = c.location;
            }
            auto q = common::build_query({c.qname, c.qtype}, qopts, session.fresh_id());
            r.asked = true;
            r.edns_location = qopts.no_edns ? "" : qopts.location;
            jobs.push_back(
                session::Job{t.url, q ? std::move(q).value() : std::vector<std::uint8_t>{}});
            job_targets.push_back(t);
            job_target_index.push_back(ti);
            job_result.push_back(report.results.size());
            report.results.push_back(std::move(r));
        }
        if (!any) {
            std::string list;
            for (const auto& x : c.transports) {
                list += (list.empty() ? "" : ", ") + x;
            }
            CaseResult r;
            r.case_index = ci;
            r.failures.push_back("no target matches transports [" + list + "]");
            report.results.push_back(std::move(r));
        }
    }
    const auto outcomes = session.run(jobs);
    for (std::size_t j = 0; j < jobs.size(); ++j) {
        auto& r = report.results[job_result[j]];
        session::record_pcap(pcap, job_target_index[j], job_targets[j], jobs[j].query, outcomes[j]);
        r.observation = session::observe(job_targets[j], outcomes[j]);
        if (const auto& ex = outcomes[j].exchange) {
            r.timing = CaseResult::Timing{ex->connect_ms, ex->query_ms, ex->reused_connection};
        }
        r.failures = evaluate(cases[r.case_index], r.observation);
    }
    return report;
}

} // namespace probes::check
