// SPDX-License-Identifier: MIT
// The customer self-test: profiles and their defaults, policy classification, and the run
// itself, step by step (the steps are in steps.cpp, the endpoints in endpoints.cpp).
#include "probes/selftest/selftest.hpp"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <set>

#include "probes/check/run.hpp"
#include "probes/compare/diff.hpp"
#include "probes/selftest/steps.hpp"
#include "probes/session/session.hpp"
#include "resolver/wire/message.hpp"

namespace probes::selftest {
using nlohmann::json;
namespace wire = resolver::wire;

namespace {

std::string now_rfc3339() {
    const auto t = std::time(nullptr);
    tm u{};
    gmtime_r(&t, &u);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &u);
    return buf;
}

} // namespace

const std::vector<std::string>& gateway_test_names() {
    static const std::vector<std::string> names = {"anonymizer",
                                                   "commandandcontrolandbotnet",
                                                   "compromiseddomain",
                                                   "cryptomining",
                                                   "malware",
                                                   "newdomains",
                                                   "parkedandforsaledomains",
                                                   "phishing",
                                                   "potentiallyunwantedsoftware",
                                                   "privateipaddress",
                                                   "spam",
                                                   "spyware",
                                                   "unreachable",
                                                   "nudity"};
    return names;
}

std::string profile_of(const Options& o) {
    const bool gateway = !o.doh.empty() || !o.dot.empty() || !o.ipv4.empty() || !o.ipv6.empty();
    return gateway && o.lab_ready.empty() && o.lab_host.empty() ? "gateway" : "lab";
}

void apply_profile_defaults(Options& o) {
    const bool lab = profile_of(o) == "lab";
    // Lab: fixture names (fixtures/zones/README.md). Gateway: public defaults, overridable.
    auto def = [](std::string& v, const char* lab_value, const char* gw_value, bool is_lab) {
        if (v.empty()) {
            v = is_lab ? lab_value : gw_value;
        }
    };
    def(o.reach_name, "www.example.com", "www.cloudflare.com", lab);
    // Only names the user left out get a default: '' given on the command line stays ''
    // and switches the check off. Unset after this: the check says it has no name.
    auto opt = [&](std::optional<std::string>& v, const char* lab_value, const char* gw_value) {
        const char* d = lab ? lab_value : gw_value;
        if (!v && d != nullptr) {
            v = d;
        }
    };
    opt(o.large_name, "big.example.com", nullptr);
    opt(o.signed_name, nullptr, "cloudflare.com");
    opt(o.error_name, "servfail.example.com", "dnssec-failed.org");
    if (o.test_names.empty()) {
        for (const auto& n : gateway_test_names()) {
            o.test_names.push_back(n + ".testcategory.com");
        }
    }
}

void apply_location(Options& o) {
    if (o.location.empty()) {
        return;
    }
    // Gateway's per-location endpoints (the dashboard's DNS locations page):
    // https://SUB.cloudflare-gateway.com/dns-query and SUB.cloudflare-gateway.com for DoT.
    const std::string host = o.location + "." + kGatewayDomain;
    if (o.doh.empty()) {
        o.doh = "https://" + host + "/dns-query";
    }
    if (o.dot.empty()) {
        o.dot = host;
    }
}

std::string how_to_run(const std::string& program) {
    return "Nothing to test: no endpoint given and no lab ready file found.\n"
           "\n"
           "For a Cloudflare Gateway location (Zero Trust > Gateway > DNS locations):\n"
           "  " +
           program +
           " --location SUB\n"
           "      SUB is the location's DoH subdomain; this tests\n"
           "      https://SUB.cloudflare-gateway.com/dns-query (DoH) and\n"
           "      SUB.cloudflare-gateway.com (DoT)\n"
           "  " +
           program +
           " --location SUB --ipv4 ADDR --ipv6 ADDR --redact\n"
           "      also plain DNS to the location's resolver addresses; --redact hides this\n"
           "      machine's addresses in the report\n"
           "\n"
           "For the dnslab lab resolver: start it with --ready-file /tmp/dnslab.ready, or give\n"
           "  " +
           program +
           " --lab READY_FILE   (or --lab-host ADDR:udp=P,tcp=P,tls=P,https=P)\n"
           "\n"
           "More: " +
           program + " --help, docs/selftest.md\n";
}

std::string classify(const compare::Observation& o, const std::vector<std::string>& labels,
                     const check::Case& c, bool endpoint_refuses) {
    if (o.error || !o.answered) {
        return "error";
    }
    if (o.rcode == wire::rcode::Refused && !compare::is_block(labels)) {
        return "refused"; // REFUSED with EDE 20: not authoritative, not a block
    }
    if (o.rcode == wire::rcode::Refused && endpoint_refuses) {
        // The endpoint refuses everything, the reach name too: what Gateway tells a client
        // that is no location, not a policy decision about this name.
        return "refused";
    }
    if (std::find(labels.begin(), labels.end(), "blockpage") != labels.end()) {
        return "blockpage";
    }
    if (compare::is_block(labels)) {
        return "blocked";
    }
    for (const auto& rr : o.answer) {
        if (rr.type != wire::rrtype::CNAME) {
            continue;
        }
        for (auto target : rr.rdata) {
            if (target.empty() || target.back() != '.') {
                target += '.'; // safesearch_hosts() are fully qualified
            }
            const auto& hosts = check::safesearch_hosts();
            if (std::find(hosts.begin(), hosts.end(), target) != hosts.end()) {
                return "override";
            }
        }
    }
    if (c.outcome.rfind("override:", 0) == 0 && check::evaluate(c, o).empty()) {
        return "override";
    }
    if (o.rcode == 0 || o.rcode == 3) {
        return "allowed";
    }
    return "error";
}

Verdict policy_verdict(const std::vector<std::string>& classes, bool has_exp,
                       const std::vector<std::string>& failures) {
    if (has_exp) {
        return failures.empty() ? Verdict::Pass : Verdict::Fail;
    }
    const std::set<std::string> distinct(classes.begin(), classes.end());
    if (distinct.empty()) {
        return Verdict::Skipped;
    }
    // Transports that disagree, or that fail or refuse (not a location?), are worth a look.
    const bool odd = distinct.count("error") != 0U || distinct.count("refused") != 0U;
    return distinct.size() == 1 && !odd ? Verdict::Info : Verdict::Warn;
}

Report run_selftest(const Options& o, const std::vector<Endpoint>& endpoints,
                    const Progress& progress) {
    const auto started = std::chrono::steady_clock::now();
    Report r;
    r.profile = profile_of(o);
    r.generated_at = now_rfc3339();
    r.tool_version = o.tool_version;
    for (const auto& e : endpoints) {
        r.endpoints.push_back({e.id, e.target.transport, e.target.url.to_string()});
    }
    constexpr int kSteps = 7;
    resolver::upstream::UpstreamOptions uopts;
    uopts.timeout_ms = o.timeout_ms;
    uopts.connect_timeout_ms = o.timeout_ms;
    uopts.tries = o.retries + 1;
    auto session = session::ProbeSession::open(uopts);
    if (!session) {
        r.checks.push_back({"reachability.session", "reachability", "Event loop", Verdict::Fail,
                            session.error().detail, json::object()});
        return r;
    }
    Context cx{o, endpoints, **session, r.profile == "lab", {}, {}, {}, {}, {}};
    // Later steps use only the endpoints that answered, so a dead transport costs one
    // timeout, not one per check.
    progress(1, kSteps, "reachability of " + std::to_string(endpoints.size()) + " endpoints");
    check_reachability(cx, r);
    progress(2, kSteps, "TLS certificates");
    check_tls(cx, r);
    progress(3, kSteps, "plain DNS interception");
    check_interception(cx, r);
    progress(4, kSteps, "policy outcomes");
    check_policy(cx, r);
    progress(5, kSteps, "resolver features");
    check_features(cx, r);
    (*session)->close();
    progress(6, kSteps, "local clock");
    check_clock(cx, r);
    progress(7, kSteps, "local configuration");
    r.duration_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
            .count();
    return r;
}

} // namespace probes::selftest
