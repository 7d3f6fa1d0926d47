// SPDX-License-Identifier: MIT
#include "probes/selftest/selftest.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>

#include <uv.h>

#include "probes/check/run.hpp"
#include "probes/common/query.hpp"
#include "probes/compare/diff.hpp"
#include "probes/matrix/engine.hpp"
#include "probes/matrix/report.hpp"
#include "probes/matrix/run.hpp"
#include "probes/selftest/tls_probe.hpp"
#include "resolver/util/url.hpp"
#include "resolver/wire/message.hpp"

namespace probes::selftest {
using nlohmann::json;
using resolver::Errc;
using resolver::fail;
namespace util = resolver::util;
namespace wire = resolver::wire;

namespace {

constexpr std::uint16_t kDefaultDotPort = 853;
constexpr long kClockWarnSeconds = 60; // beyond this, TLS validity and token lifetimes suffer
constexpr long kCertWarnDays = 14;

std::string host_part(const std::string& host) {
    return util::is_ipv6_literal(host) ? "[" + host + "]" : host;
}

// "ADDR", "ADDR:PORT", "[V6]:PORT" or a bare IPv6 literal -> (host, port).
resolver::Result<std::pair<std::string, std::uint16_t>> split_host_port(const std::string& spec,
                                                                        std::uint16_t def) {
    std::string host = spec;
    std::string port;
    if (!spec.empty() && spec.front() == '[') {
        auto close = spec.find(']');
        if (close == std::string::npos) {
            return fail(Errc::ConfigInvalid, "bad address '" + spec + "'");
        }
        host = spec.substr(1, close - 1);
        if (close + 1 < spec.size()) {
            if (spec[close + 1] != ':') {
                return fail(Errc::ConfigInvalid, "bad address '" + spec + "'");
            }
            port = spec.substr(close + 2);
        }
    } else if (std::count(spec.begin(), spec.end(), ':') == 1) {
        host = spec.substr(0, spec.find(':'));
        port = spec.substr(spec.find(':') + 1);
    }
    std::uint16_t p = def;
    if (!port.empty()) {
        char* end = nullptr;
        const long v = std::strtol(port.c_str(), &end, 10);
        if (*end != '\0' || v <= 0 || v > 65535) {
            return fail(Errc::ConfigInvalid, "bad port in '" + spec + "'");
        }
        p = static_cast<std::uint16_t>(v);
    }
    if (host.empty()) {
        return fail(Errc::ConfigInvalid, "no host in '" + spec + "'");
    }
    return std::make_pair(host, p);
}

resolver::Result<common::Target> make_target(const std::string& id, const std::string& text) {
    auto url = util::parse_url(text);
    if (!url) {
        return url.error();
    }
    return common::Target{id, *url, common::transport_of(*url)};
}

using EndpointMap = std::map<std::string, common::Target>;

resolver::Status add_do53(EndpointMap& m, const std::string& host, std::uint16_t port, bool udp,
                          bool tcp) {
    const std::string fam = util::is_ipv6_literal(host) ? "6" : "4";
    const std::string hp = host_part(host) + ":" + std::to_string(port);
    for (auto [on, scheme] : {std::pair{udp, "udp"}, std::pair{tcp, "tcp"}}) {
        if (!on) {
            continue;
        }
        auto t = make_target(scheme + fam, std::string(scheme) + "://" + hp);
        if (!t) {
            return t.error();
        }
        m[scheme + fam] = *t;
    }
    return resolver::ok();
}

void add_doh(EndpointMap& m, const util::Url& base) {
    for (auto [id, http] : {std::pair{"doh-h2", "2"}, std::pair{"doh-h1", "1.1"}}) {
        util::Url u = base;
        u.params["method"] = "post";
        u.params["http"] = http;
        if (u.path.empty()) {
            u.path = "/dns-query";
        }
        m[id] = common::Target{id, u, common::transport_of(u)};
    }
}

resolver::Status read_ready(Options& o, EndpointMap& m) {
    std::ifstream in(o.lab_ready);
    if (!in) {
        return fail(Errc::ConfigInvalid,
                    "cannot read lab ready file " + o.lab_ready +
                        " (start the lab resolver with --ready-file, docs/selftest.md)");
    }
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("ca ", 0) == 0) {
            if (o.ca.empty()) {
                o.ca = line.substr(3);
            }
            continue;
        }
        auto url = util::parse_url(line);
        if (!url || line.empty()) {
            continue; // lines of other kinds are for other readers
        }
        const auto port = url->port_or(0);
        resolver::Status st = resolver::ok();
        if (url->scheme == "dns") {
            st = add_do53(m, url->host, port, true, true);
        } else if (url->scheme == "udp" || url->scheme == "tcp") {
            st = add_do53(m, url->host, port, url->scheme == "udp", url->scheme == "tcp");
        } else if (url->scheme == "tls") {
            if (m.count("dot") == 0U) {
                auto t = make_target("dot", "tls://" + url->authority());
                st = t ? (m["dot"] = *t, resolver::ok()) : resolver::Status(t.error());
            }
        } else if (url->scheme == "https") {
            if (m.count("doh-h2") == 0U) {
                util::Url u = *url;
                u.params.clear();
                add_doh(m, u);
            }
        }
        if (!st) {
            return st;
        }
    }
    return resolver::ok();
}

std::uint16_t fresh_id(std::mt19937& rng) {
    return static_cast<std::uint16_t>(std::uniform_int_distribution<int>(0, 65535)(rng));
}

// A query for `name`/`type`, class `qclass` (CHAOS for id.server, RFC 4892).
std::vector<std::uint8_t> make_query(const std::string& name, std::uint16_t type,
                                     std::uint16_t qclass, const common::QueryOptions& q,
                                     std::mt19937& rng) {
    auto wire_q = common::build_query({name, type}, q, fresh_id(rng));
    if (!wire_q || qclass == wire::rrclass::IN) {
        return wire_q ? std::move(wire_q).value() : std::vector<std::uint8_t>{};
    }
    auto parsed = wire::parse(*wire_q);
    if (!parsed || parsed.message->question.empty()) {
        return {};
    }
    parsed.message->question[0].qclass = qclass;
    return wire::serialize(*parsed.message);
}

json latency_json(const matrix::Outcome& o) {
    if (!o.exchange) {
        return nullptr;
    }
    return {{"connect_ms", o.exchange->connect_ms},
            {"query_ms", o.exchange->query_ms},
            {"server", o.exchange->server}};
}

std::string fmt_ms(double ms) {
    std::ostringstream s;
    s.setf(std::ios::fixed);
    s.precision(1);
    s << ms << " ms";
    return s.str();
}

bool is_plain(const std::string& id) {
    return id.rfind("udp", 0) == 0 || id.rfind("tcp", 0) == 0;
}

std::string join(const std::vector<std::string>& v, const std::string& sep = ", ") {
    std::string out;
    for (const auto& s : v) {
        out += (out.empty() ? "" : sep) + s;
    }
    return out;
}

std::string now_rfc3339() {
    const auto t = std::time(nullptr);
    tm u{};
    gmtime_r(&t, &u);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &u);
    return buf;
}

// TXT strings of an observation's answer (id.server), lower-cased RDATA presentation.
std::vector<std::string> txt_answers(const compare::Observation& o) {
    std::vector<std::string> out;
    for (const auto& rr : o.answer) {
        if (rr.type == wire::rrtype::TXT) {
            out.insert(out.end(), rr.rdata.begin(), rr.rdata.end());
        }
    }
    std::sort(out.begin(), out.end());
    return out;
}

bool has_expectation(const check::Case& c) {
    return !c.outcome.empty() || c.rcode || c.answer || !c.ede.empty();
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
    def(o.large_name, "big.example.com", "", lab);
    def(o.signed_name, "", "cloudflare.com", lab);
    def(o.error_name, "servfail.example.com", "dnssec-failed.org", lab);
    if (o.test_names.empty()) {
        for (const auto& n : gateway_test_names()) {
            o.test_names.push_back(n + ".testcategory.com");
        }
    }
}

resolver::Result<std::vector<Endpoint>> build_endpoints(Options& o) {
    EndpointMap m;
    if (!o.lab_ready.empty()) {
        if (auto st = read_ready(o, m); !st) {
            return st.error();
        }
    }
    if (!o.lab_host.empty()) {
        auto ts = common::parse_host(o.lab_host);
        if (!ts) {
            return ts.error();
        }
        for (const auto& t : *ts) {
            const auto port = t.url.port_or(0);
            resolver::Status st = resolver::ok();
            if (t.transport == "udp" || t.transport == "tcp") {
                st = add_do53(m, t.url.host, port, t.transport == "udp", t.transport == "tcp");
            } else if (t.transport == "tls") {
                auto d = make_target("dot", "tls://" + t.url.authority());
                st = d ? (m["dot"] = *d, resolver::ok()) : resolver::Status(d.error());
            } else if (t.transport == "https-post") {
                util::Url u = t.url;
                u.params.clear();
                add_doh(m, u);
            }
            if (!st) {
                return st.error();
            }
        }
    }
    // Explicit endpoints (Gateway profile, or overriding one lab endpoint).
    if (!o.ipv4.empty() || !o.ipv6.empty()) {
        for (const auto* spec : {&o.ipv4, &o.ipv6}) {
            if (spec->empty()) {
                continue;
            }
            auto hp = split_host_port(*spec, 53);
            if (!hp) {
                return hp.error();
            }
            const bool v6 = util::is_ipv6_literal(hp->first);
            if (v6 != (spec == &o.ipv6) || !util::is_ip_literal(hp->first)) {
                return fail(Errc::ConfigInvalid, "'" + *spec + "' is not an IPv" +
                                                     (spec == &o.ipv6 ? "6" : "4") + " address");
            }
            if (auto st = add_do53(m, hp->first, hp->second, true, true); !st) {
                return st.error();
            }
        }
    }
    if (!o.dot.empty()) {
        std::string spec = o.dot;
        if (spec.rfind("tls://", 0) == 0) {
            spec = spec.substr(6);
        }
        auto hp = split_host_port(spec.substr(0, spec.find('?')), kDefaultDotPort);
        if (!hp) {
            return hp.error();
        }
        auto t =
            make_target("dot", "tls://" + host_part(hp->first) + ":" + std::to_string(hp->second));
        if (!t) {
            return t.error();
        }
        m["dot"] = *t;
    }
    if (!o.doh.empty()) {
        auto url = util::parse_url(o.doh);
        if (!url || url->scheme != "https") {
            return fail(Errc::ConfigInvalid,
                        "--doh wants https://HOST[:PORT]/PATH, got '" + o.doh + "'");
        }
        add_doh(m, *url);
    }
    std::vector<Endpoint> out;
    std::vector<common::Target> targets;
    for (const char* id : {"udp4", "tcp4", "udp6", "tcp6", "dot", "doh-h2", "doh-h1"}) {
        if (auto it = m.find(id); it != m.end()) {
            targets.push_back(it->second);
        }
    }
    if (targets.empty()) {
        return fail(Errc::ConfigInvalid, "nothing to test: give --lab READY_FILE, --lab-host, or "
                                         "Gateway endpoints (--doh, --dot, --ipv4, --ipv6)");
    }
    common::finalize_targets(targets, o.ca, {});
    for (auto& t : targets) {
        out.push_back(Endpoint{t.name, t});
    }
    return out;
}

std::string classify(const compare::Observation& o, const std::vector<std::string>& labels,
                     const check::Case& c) {
    if (o.error || !o.answered) {
        return "error";
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
        for (const auto& target : rr.rdata) {
            for (const auto& h : check::safesearch_hosts()) {
                auto t = target;
                if (!t.empty() && t.back() == '.') {
                    t.pop_back();
                }
                if (t == h) {
                    return "override";
                }
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
    return distinct.size() == 1 && *distinct.begin() != "error" ? Verdict::Info : Verdict::Warn;
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
    const bool lab = r.profile == "lab";
    constexpr int kSteps = 7;
    std::mt19937 rng(std::random_device{}());
    common::QueryOptions q; // RD, EDNS 1232: what a stub sends (RFC 9715 / DNS flag day 2020)

    uv_loop_t loop;
    uv_loop_init(&loop);
    resolver::upstream::UpstreamOptions uopts;
    uopts.timeout_ms = o.timeout_ms;
    uopts.connect_timeout_ms = o.timeout_ms;
    uopts.tries = o.retries + 1;
    matrix::Engine engine(&loop, uopts);

    auto find_ep = [&](const std::string& id) -> const Endpoint* {
        for (const auto& e : endpoints) {
            if (e.id == id) {
                return &e;
            }
        }
        return nullptr;
    };

    // 1. Reachability and latency: the reach name over every endpoint, concurrently.
    progress(1, kSteps, "reachability of " + std::to_string(endpoints.size()) + " endpoints");
    std::vector<matrix::Job> jobs;
    for (const auto& e : endpoints) {
        jobs.push_back(
            {e.target.url, make_query(o.reach_name, wire::rrtype::A, wire::rrclass::IN, q, rng)});
    }
    const auto reach = engine.run(jobs);
    std::vector<const Endpoint*> up; // reachable endpoints; later steps use only these
    std::map<std::string, compare::Observation> reach_obs;
    for (const char* id : {"udp4", "tcp4", "udp6", "tcp6", "dot", "doh-h2", "doh-h1"}) {
        Check c{std::string("reachability.") + id,
                "reachability",
                std::string("Reachability over ") + id,
                Verdict::Skipped,
                "not configured",
                json::object()};
        for (std::size_t i = 0; i < endpoints.size(); ++i) {
            if (endpoints[i].id != id) {
                continue;
            }
            auto obs = matrix::observe(endpoints[i].target, reach[i]);
            c.data = {{"url", endpoints[i].target.url.to_string()},
                      {"question", o.reach_name + " A"},
                      {"latency", latency_json(reach[i])},
                      {"rcode", obs.answered ? json(wire::rcode_name(obs.rcode)) : json(nullptr)},
                      {"error", obs.error ? json(*obs.error) : json(nullptr)}};
            if (obs.doh) {
                c.data["http_status"] = obs.http_status;
            }
            if (obs.error || !obs.answered) {
                c.verdict = Verdict::Fail;
                c.detail = "no answer: " + obs.error.value_or("unparsable answer");
            } else {
                c.verdict = Verdict::Pass;
                const auto& ex = *reach[i].exchange;
                c.detail = "answered " + wire::rcode_name(obs.rcode) + " in " +
                           fmt_ms(ex.connect_ms + ex.query_ms) +
                           (ex.connect_ms > 0 ? " (connect " + fmt_ms(ex.connect_ms) + ")" : "");
                up.push_back(&endpoints[i]);
                reach_obs[id] = obs;
            }
        }
        r.checks.push_back(std::move(c));
    }

    // 2. TLS facts, one separate handshake per encrypted endpoint (bounded, sequential).
    progress(2, kSteps, "TLS certificates");
    std::optional<TlsFacts> doh_facts;
    for (const char* id : {"dot", "doh"}) {
        const Endpoint* e = find_ep(std::string(id) == "dot" ? "dot" : "doh-h2");
        Check c{std::string("tls.") + id,
                "tls",
                std::string("TLS certificate of ") + (std::string(id) == "dot" ? "DoT" : "DoH"),
                Verdict::Skipped,
                "not configured",
                json::object()};
        if (e != nullptr) {
            TlsProbeOptions t;
            t.host = e->target.url.host;
            t.port = e->target.url.port_or(std::string(id) == "dot" ? 853 : 443);
            t.server_name = e->target.url.param("sni", e->target.url.host);
            t.trust_ca_file = o.ca;
            t.expected_issuer = o.expected_issuer.empty() && lab ? o.ca : o.expected_issuer;
            t.alpn = {std::string(id) == "dot" ? "dot" : "http/1.1"};
            if (std::string(id) == "doh") {
                t.http_path = e->target.url.path.empty() ? "/dns-query" : e->target.url.path;
            }
            t.timeout_ms = std::max(o.timeout_ms, 1000U);
            const auto f = probe_tls(t);
            c.data = tls_facts_json(f);
            c.data["server_name"] = t.server_name;
            c.data["expected_issuer"] =
                t.expected_issuer.empty() ? json(nullptr) : json(t.expected_issuer);
            if (!f.connected) {
                c.verdict = Verdict::Fail;
                c.detail = f.error;
            } else if (f.interception()) {
                c.verdict = Verdict::Fail;
                c.detail = "certificate chain does not lead to the expected issuer (issuer: " +
                           (f.chain.empty() ? std::string("?") : f.chain.front().issuer) +
                           "): TLS interception by a middlebox, or the wrong endpoint";
            } else if (!f.trusted) {
                c.verdict = Verdict::Fail;
                c.detail = "certificate not trusted: " + f.trust_error;
            } else if (!f.name_match) {
                c.verdict = Verdict::Fail;
                c.detail = "certificate does not match " + t.server_name;
            } else if (!f.valid_now) {
                c.verdict = Verdict::Fail;
                c.detail = "certificate outside its validity period";
            } else if (f.days_left < kCertWarnDays) {
                c.verdict = Verdict::Warn;
                c.detail = "certificate expires in " + std::to_string(f.days_left) + " days";
            } else {
                c.verdict = Verdict::Pass;
                c.detail = f.protocol + ", issuer " +
                           (f.chain.empty() ? std::string("?") : f.chain.front().issuer) +
                           ", valid " + std::to_string(f.days_left) + " more days";
            }
            if (std::string(id) == "doh") {
                doh_facts = f;
            }
        }
        r.checks.push_back(std::move(c));
    }

    // 3. Interception of plain DNS: identity (id.server CH TXT, RFC 4892) and answers compared
    //    between plain and encrypted transports.
    progress(3, kSteps, "plain DNS interception");
    {
        jobs.clear();
        for (const auto* e : up) {
            jobs.push_back({e->target.url,
                            make_query("id.server", wire::rrtype::TXT, wire::rrclass::CH, q, rng)});
        }
        const auto out = engine.run(jobs);
        json per = json::object();
        std::set<std::vector<std::string>> plain_ids;
        std::set<std::vector<std::string>> enc_ids;
        std::vector<std::string> silent;
        for (std::size_t i = 0; i < up.size(); ++i) {
            const auto obs = matrix::observe(up[i]->target, out[i]);
            const auto txt = txt_answers(obs);
            per[up[i]->id] = txt.empty() ? json(nullptr) : json(txt);
            if (txt.empty()) {
                silent.push_back(up[i]->id);
                continue;
            }
            (is_plain(up[i]->id) ? plain_ids : enc_ids).insert(txt);
        }
        Check c{"interception.identity",
                "interception",
                "Resolver identity (id.server) across transports",
                Verdict::Pass,
                "",
                {{"identity", per}}};
        if (plain_ids.empty() && enc_ids.empty()) {
            c.verdict = up.empty() ? Verdict::Skipped : Verdict::Info;
            c.detail =
                up.empty() ? "no endpoint reachable" : "the resolver does not reveal an identity";
        } else if (!plain_ids.empty() && !enc_ids.empty() && plain_ids != enc_ids) {
            c.verdict = Verdict::Fail;
            c.detail = "plain DNS is answered by a different resolver than DoT/DoH: intercepted or "
                       "redirected";
        } else if (plain_ids.size() > 1 || enc_ids.size() > 1) {
            c.verdict = Verdict::Warn;
            c.detail = "transports report different identities";
        } else if (enc_ids.empty() || plain_ids.empty()) {
            c.verdict = Verdict::Info;
            c.detail = "identity " + join(*(enc_ids.empty() ? plain_ids : enc_ids).begin()) +
                       "; nothing to compare it with";
        } else {
            c.detail = "identity " + join(*enc_ids.begin()) + " on every transport";
        }
        if (!silent.empty() && c.verdict == Verdict::Pass) {
            c.verdict = Verdict::Warn;
            c.detail += "; no identity over " + join(silent);
        }
        r.checks.push_back(std::move(c));

        // Answers only plain DNS gets: the reach answer over plain vs encrypted.
        Check a{"interception.answers",
                "interception",
                "Same answer over plain DNS and DoT/DoH",
                Verdict::Pass,
                "",
                json::object()};
        const compare::Observation* ref = nullptr;
        for (const char* id : {"doh-h2", "dot", "doh-h1"}) {
            if (reach_obs.count(id) != 0U) {
                ref = &reach_obs[id];
                break;
            }
        }
        std::vector<std::string> differ;
        json diffs = json::object();
        compare::CompareOptions copts;
        copts.ignore = {"flags.aa", "edns", "ede", "http", "answer.ttl", "authority", "additional"};
        for (const auto& [id, obs] : reach_obs) {
            if (ref == nullptr || !is_plain(id)) {
                continue;
            }
            if (auto d = compare::first_difference(*ref, obs, copts)) {
                differ.push_back(id);
                diffs[id] = {{"field", d->field}, {"encrypted", d->a}, {"plain", d->b}};
            }
        }
        a.data = {{"question", o.reach_name + " A"},
                  {"reference", ref ? json(ref->target) : json(nullptr)},
                  {"differences", diffs}};
        if (ref == nullptr) {
            a.verdict = Verdict::Skipped;
            a.detail = "no encrypted endpoint reachable to compare with";
        } else if (!differ.empty()) {
            a.verdict = Verdict::Fail;
            a.detail = "plain DNS (" + join(differ) + ") gets a different answer than " +
                       ref->target + ": intercepted or rewritten";
        } else {
            a.detail = "plain and encrypted answers agree";
        }
        r.checks.push_back(std::move(a));
    }

    // 4. Policy outcome of the test names and the customer's names, per transport.
    progress(4, kSteps, "policy outcomes");
    {
        std::vector<check::Case> cases;
        if (!o.expect_file.empty()) {
            std::ifstream in(o.expect_file);
            std::ostringstream s;
            s << in.rdbuf();
            auto parsed = check::parse_cases(s.str());
            if (parsed) {
                cases = *parsed;
            } else {
                r.checks.push_back({"policy.expectations", "policy", "Expectation file",
                                    Verdict::Fail, o.expect_file + ": " + parsed.error().detail,
                                    json::object()});
            }
        }
        auto add_name = [&](const std::string& n) {
            const bool covered = std::any_of(cases.begin(), cases.end(), [&](const check::Case& c) {
                return c.qname == n && c.qtype == wire::rrtype::A;
            });
            if (!covered) {
                check::Case c;
                c.id = n + " A";
                c.qname = n;
                cases.push_back(c);
            }
        };
        for (const auto& n : o.test_names) {
            add_name(n);
        }
        for (const auto& n : o.names) {
            add_name(n);
        }
        std::vector<common::Target> targets;
        for (const auto* e : up) {
            targets.push_back(e->target);
        }
        check::CheckReport rep;
        if (!targets.empty()) {
            rep = check::run_check(engine, targets, cases, q, nullptr);
        }
        std::set<std::string> used_ids;
        for (std::size_t ci = 0; ci < cases.size(); ++ci) {
            const auto& cs = cases[ci];
            std::string id = "policy." + cs.qname +
                             (cs.qtype == wire::rrtype::A ? "" : "/" + wire::type_name(cs.qtype));
            for (int n = 2; !used_ids.insert(id).second; ++n) {
                id += "#" + std::to_string(n);
            }
            Check c{id,
                    "policy",
                    "Policy outcome of " + cs.qname + " " + wire::type_name(cs.qtype),
                    Verdict::Skipped,
                    "no endpoint reachable",
                    json::object()};
            std::vector<std::string> classes;
            std::vector<std::string> failures;
            std::map<std::string, std::vector<std::string>> by_class;
            json outcomes = json::object();
            std::vector<compare::Observation> all;
            for (const auto& res : rep.results) {
                if (res.case_index == ci && !res.target.empty()) {
                    all.push_back(res.observation);
                }
            }
            for (const auto& res : rep.results) {
                if (res.case_index != ci) {
                    continue;
                }
                if (res.target.empty()) {
                    failures.insert(failures.end(), res.failures.begin(), res.failures.end());
                    continue;
                }
                const auto labels = compare::sinkhole_labels(res.observation, cs.qtype, all);
                const auto cls = classify(res.observation, labels, cs);
                classes.push_back(cls);
                by_class[cls].push_back(res.target);
                std::vector<std::string> rdata;
                for (const auto& rr : res.observation.answer) {
                    rdata.insert(rdata.end(), rr.rdata.begin(), rr.rdata.end());
                }
                outcomes[res.target] = {
                    {"classification", cls},
                    {"labels", labels},
                    {"rcode", res.observation.answered
                                  ? json(wire::rcode_name(res.observation.rcode))
                                  : json(nullptr)},
                    {"answer", rdata},
                    {"error", res.observation.error ? json(*res.observation.error) : json(nullptr)},
                    {"failures", res.failures}};
                for (const auto& f : res.failures) {
                    failures.push_back(res.target + ": " + f);
                }
            }
            const bool exp = has_expectation(cs);
            c.data = {{"name", cs.qname},
                      {"type", wire::type_name(cs.qtype)},
                      {"expect", exp ? json(cs.outcome.empty() ? "(rcode/answer/ede)" : cs.outcome)
                                     : json(nullptr)},
                      {"outcomes", outcomes},
                      {"failures", failures}};
            if (!classes.empty() || !failures.empty()) {
                c.verdict = policy_verdict(classes, exp, failures);
                std::vector<std::string> parts;
                for (const auto& [cls, who] : by_class) {
                    parts.push_back(cls + " on " + join(who));
                }
                c.detail = join(parts, "; ");
                if (c.verdict == Verdict::Fail && !failures.empty()) {
                    c.detail += " (expected " +
                                (cs.outcome.empty() ? std::string("see data") : cs.outcome) + ": " +
                                failures.front() + ")";
                }
                c.data["classification"] =
                    by_class.size() == 1 ? json(by_class.begin()->first) : json("mixed");
            }
            r.checks.push_back(std::move(c));
        }
    }

    // 5. Resolver features.
    progress(5, kSteps, "resolver features");
    {
        Check c{
            "features.edns",         "features",    "EDNS (RFC 6891) in answers", Verdict::Skipped,
            "no endpoint reachable", json::object()};
        json per = json::object();
        std::vector<std::string> without;
        for (const auto& [id, obs] : reach_obs) {
            per[id] = obs.edns.has_value()
                          ? json({{"present", *obs.edns}, {"udp_size", obs.udp_size}})
                          : json(nullptr);
            if (obs.edns.has_value() && !*obs.edns) {
                without.push_back(id);
            }
        }
        if (!reach_obs.empty()) {
            c.data = {{"endpoints", per}};
            c.verdict = without.empty() ? Verdict::Pass : Verdict::Fail;
            c.detail = without.empty() ? "OPT record present on every transport"
                                       : "no OPT record over " + join(without);
            if (const auto it = reach_obs.find("udp4"); without.empty() && it != reach_obs.end()) {
                c.data["udp_size"] = it->second.udp_size;
                c.detail += " (UDP payload size " + std::to_string(it->second.udp_size) + ")";
            }
        }
        r.checks.push_back(std::move(c));
    }
    {
        Check c{"features.tcp-fallback", "features", "Large answer: TC over UDP, then TCP",
                Verdict::Skipped,        "",         json::object()};
        const Endpoint* u = nullptr;
        const Endpoint* t = nullptr;
        for (const char* fam : {"4", "6"}) {
            if (reach_obs.count(std::string("udp") + fam) != 0U &&
                reach_obs.count(std::string("tcp") + fam) != 0U) {
                u = find_ep(std::string("udp") + fam);
                t = find_ep(std::string("tcp") + fam);
                break;
            }
        }
        if (o.large_name.empty()) {
            c.detail = "no large test name configured (--large-name)";
        } else if (u == nullptr) {
            c.detail = "needs reachable UDP and TCP endpoints of one address family";
        } else {
            jobs = {{u->target.url,
                     make_query(o.large_name, wire::rrtype::TXT, wire::rrclass::IN, q, rng)},
                    {t->target.url,
                     make_query(o.large_name, wire::rrtype::TXT, wire::rrclass::IN, q, rng)}};
            const auto out = engine.run(jobs);
            const auto ou = matrix::observe(u->target, out[0]);
            const auto ot = matrix::observe(t->target, out[1]);
            auto count = [](const compare::Observation& x) {
                std::size_t n = 0;
                for (const auto& rr : x.answer) {
                    n += rr.rdata.size();
                }
                return n;
            };
            const bool udp_tc = ou.flags.tc.value_or(false);
            const bool tcp_tc = ot.flags.tc.value_or(false);
            c.data = {{"question", o.large_name + " TXT"},
                      {"udp",
                       {{"error", ou.error ? json(*ou.error) : json(nullptr)},
                        {"tc", udp_tc},
                        {"records", count(ou)},
                        {"bytes", out[0].exchange ? out[0].exchange->wire.size() : 0}}},
                      {"tcp",
                       {{"error", ot.error ? json(*ot.error) : json(nullptr)},
                        {"tc", tcp_tc},
                        {"records", count(ot)},
                        {"bytes", out[1].exchange ? out[1].exchange->wire.size() : 0}}}};
            if (ou.error || ot.error) {
                c.verdict = Verdict::Fail;
                c.detail = ou.error ? "UDP: " + *ou.error : "TCP: " + *ot.error;
            } else if (tcp_tc || count(ot) == 0) {
                c.verdict = Verdict::Fail;
                c.detail = "TCP did not return the full answer";
            } else if (!udp_tc && count(ou) < count(ot)) {
                c.verdict = Verdict::Fail;
                c.detail = "UDP answer is incomplete but TC is not set";
            } else {
                c.verdict = Verdict::Pass;
                c.detail =
                    udp_tc ? "UDP answer truncated (TC), TCP returned all " +
                                 std::to_string(count(ot)) + " records"
                           : "the answer fit in UDP (" + std::to_string(count(ou)) + " records)";
            }
        }
        r.checks.push_back(std::move(c));
    }
    {
        Check c{"features.dnssec-ad", "features", "DNSSEC validation (AD bit)",
                Verdict::Skipped,     "",         json::object()};
        const Endpoint* e = up.empty() ? nullptr : up.front();
        if (lab && o.signed_name.empty()) {
            c.verdict = Verdict::NotApplicable;
            c.detail = "the lab fixture zones are unsigned";
        } else if (o.signed_name.empty()) {
            c.detail = "no signed name configured (--signed-name)";
        } else if (e == nullptr) {
            c.detail = "no endpoint reachable";
        } else {
            auto dq = q;
            dq.dnssec_ok = true;
            jobs = {{e->target.url,
                     make_query(o.signed_name, wire::rrtype::A, wire::rrclass::IN, dq, rng)}};
            const auto obs = matrix::observe(e->target, engine.run(jobs)[0]);
            const bool ad = obs.flags.ad.value_or(false);
            c.data = {{"question", o.signed_name + " A +dnssec"},
                      {"endpoint", e->id},
                      {"ad", ad},
                      {"rcode", obs.answered ? json(wire::rcode_name(obs.rcode)) : json(nullptr)}};
            c.verdict = obs.error ? Verdict::Fail : ad ? Verdict::Pass : Verdict::Fail;
            c.detail = obs.error ? *obs.error
                       : ad      ? "AD set on " + o.signed_name
                                 : "AD not set on the signed name " + o.signed_name;
        }
        r.checks.push_back(std::move(c));
    }
    {
        Check c{"features.ede",   "features", "Extended DNS Errors (RFC 8914) on errors",
                Verdict::Skipped, "",         json::object()};
        if (o.error_name.empty()) {
            c.detail = "no error name configured (--error-name)";
        } else if (up.empty()) {
            c.detail = "no endpoint reachable";
        } else {
            jobs.clear();
            for (const auto* e : up) {
                jobs.push_back({e->target.url, make_query(o.error_name, wire::rrtype::A,
                                                          wire::rrclass::IN, q, rng)});
            }
            const auto out = engine.run(jobs);
            json per = json::object();
            std::vector<std::string> with;
            std::vector<std::string> without;
            std::vector<std::string> no_error;
            for (std::size_t i = 0; i < up.size(); ++i) {
                const auto obs = matrix::observe(up[i]->target, out[i]);
                json codes = json::array();
                for (const auto& e : obs.ede) {
                    codes.push_back({{"code", e.code}, {"text", e.text}});
                }
                per[up[i]->id] = {
                    {"rcode", obs.answered ? json(wire::rcode_name(obs.rcode)) : json(nullptr)},
                    {"ede", codes},
                    {"error", obs.error ? json(*obs.error) : json(nullptr)}};
                if (!obs.answered || obs.rcode == 0 || obs.rcode == 3) {
                    no_error.push_back(up[i]->id);
                } else {
                    (obs.ede.empty() ? without : with).push_back(up[i]->id);
                }
            }
            c.data = {{"question", o.error_name + " A"}, {"endpoints", per}};
            if (with.empty() && without.empty()) {
                c.verdict = Verdict::NotApplicable;
                c.detail = o.error_name + " produced no error answer";
            } else if (!without.empty()) {
                c.verdict = Verdict::Fail;
                c.detail = "error answer without EDE over " + join(without);
            } else {
                c.verdict = Verdict::Pass;
                c.detail = "EDE present on the error answer over " + join(with);
            }
        }
        r.checks.push_back(std::move(c));
    }

    engine.close();
    uv_run(&loop, UV_RUN_NOWAIT);
    uv_loop_close(&loop);

    // 6. Clock offset hint from the DoH endpoint's Date header.
    progress(6, kSteps, "local clock");
    {
        Check c{"local.clock",    "local",           "Clock offset against the DoH endpoint",
                Verdict::Skipped, "no DoH endpoint", json::object()};
        if (doh_facts) {
            c.data = {
                {"http_date", doh_facts->http_date ? json(*doh_facts->http_date) : json(nullptr)},
                {"offset_s",
                 doh_facts->clock_offset_s ? json(*doh_facts->clock_offset_s) : json(nullptr)}};
            if (doh_facts->clock_offset_s) {
                const long off = *doh_facts->clock_offset_s;
                c.verdict = std::labs(off) > kClockWarnSeconds ? Verdict::Warn : Verdict::Pass;
                c.detail = "local clock is " + std::to_string(off) + " s " +
                           (off >= 0 ? "ahead of" : "behind") + " the DoH endpoint";
            } else {
                c.verdict = Verdict::NotApplicable;
                c.detail = doh_facts->connected ? "the DoH endpoint sent no Date header"
                                                : "DoH endpoint not reachable over TLS";
            }
        }
        r.checks.push_back(std::move(c));
    }
    progress(7, kSteps, "local configuration");
    r.duration_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
            .count();
    return r;
}

} // namespace probes::selftest
