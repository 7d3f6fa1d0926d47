// SPDX-License-Identifier: MIT
// The self-test's checks: reachability, TLS, interception, policy, resolver features, clock.
#include "probes/selftest/steps.hpp"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include "probes/check/run.hpp"
#include "probes/compare/diff.hpp"
#include "probes/session/observe.hpp"
#include "resolver/net/transport.hpp"
#include "resolver/wire/message.hpp"

namespace probes::selftest {
using nlohmann::json;
namespace net = resolver::net;
namespace wire = resolver::wire;

namespace {

constexpr long kClockWarnSeconds = 60; // beyond this, TLS validity and token lifetimes suffer
constexpr long kCertWarnDays = 14;
constexpr const char* kEndpointOrder[] = {"udp4", "tcp4",   "udp6",  "tcp6",
                                          "dot",  "doh-h2", "doh-h1"};

bool is_plain(const Endpoint& e) {
    const auto kind = net::transport_from_name(e.target.url.scheme);
    return kind && !net::row(*kind).encrypted;
}

json latency_json(const session::Outcome& o) {
    if (!o.exchange) {
        return nullptr;
    }
    return {{"connect_ms", o.exchange->connect_ms},
            {"query_ms", o.exchange->query_ms},
            {"server", o.exchange->server}};
}

// TXT strings of an observation's answer (id.server), RDATA presentation.
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

std::size_t record_count(const compare::Observation& x) {
    std::size_t n = 0;
    for (const auto& rr : x.answer) {
        n += rr.rdata.size();
    }
    return n;
}

json rcode_json(const compare::Observation& o) {
    return o.answered ? json(wire::rcode_name(o.rcode)) : json(nullptr);
}

json error_json(const compare::Observation& o) {
    return o.error ? json(*o.error) : json(nullptr);
}

// "REFUSED" or "NOERROR on udp4, tcp4; REFUSED on dot" from one rcode per endpoint.
std::string rcodes_words(const std::map<std::string, std::vector<std::string>>& by_rcode) {
    if (by_rcode.size() == 1) {
        return by_rcode.begin()->first;
    }
    std::vector<std::string> parts;
    for (const auto& [rc, who] : by_rcode) {
        parts.push_back(rc + " on " + join(who));
    }
    return join(parts, "; ");
}

// A name the resolver does not serve: its check is skipped with the reason, never failed.
bool not_served(const compare::Observation& o) {
    return o.answered &&
           (o.rcode == wire::rcode::NxDomain || o.rcode == wire::rcode::Refused ||
            (o.rcode == wire::rcode::NoError && o.answer.empty() && !o.flags.tc.value_or(false)));
}

std::string not_served_words(const std::string& name, const compare::Observation& o) {
    return name + " is not served by this resolver (" +
           (o.rcode == wire::rcode::NoError ? std::string("no records")
                                            : wire::rcode_name(o.rcode)) +
           ")";
}

} // namespace

std::string join(const std::vector<std::string>& v, const std::string& sep) {
    std::string out;
    for (const auto& s : v) {
        out += (out.empty() ? "" : sep) + s;
    }
    return out;
}

std::string fmt_ms(double ms) {
    std::ostringstream s;
    s.setf(std::ios::fixed);
    s.precision(1);
    s << ms << " ms";
    return s.str();
}

std::string answer_words(const compare::Observation& o) {
    if (!o.answered) {
        return "";
    }
    std::vector<std::string> rdata;
    for (const auto& rr : o.answer) {
        rdata.insert(rdata.end(), rr.rdata.begin(), rr.rdata.end());
    }
    if (rdata.empty()) {
        return "(no records)";
    }
    if (rdata.size() > 4) {
        return std::to_string(rdata.size()) + " " + wire::type_name(o.answer.front().type) +
               " records";
    }
    return join(rdata);
}

std::string rcode_words(const compare::Observation& o) {
    return o.answered ? wire::rcode_name(o.rcode) : "no answer";
}

const Endpoint* Context::find(const std::string& id) const {
    for (const auto& e : endpoints) {
        if (e.id == id) {
            return &e;
        }
    }
    return nullptr;
}

std::vector<std::uint8_t> Context::make_query(const std::string& name, std::uint16_t type,
                                              std::uint16_t qclass,
                                              const common::QueryOptions& q) const {
    auto wire_q = common::build_query({name, type}, q, session.fresh_id());
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

std::vector<compare::Observation> Context::ask_each(const std::vector<const Endpoint*>& eps,
                                                    const std::string& name, std::uint16_t type,
                                                    std::uint16_t qclass) {
    std::vector<session::Job> jobs;
    for (const auto* e : eps) {
        jobs.push_back({e->target.url, make_query(name, type, qclass, query)});
    }
    const auto out = session.run(jobs);
    std::vector<compare::Observation> obs;
    for (std::size_t i = 0; i < eps.size(); ++i) {
        obs.push_back(session::observe(eps[i]->target, out[i]));
    }
    return obs;
}

Check judge_reachability(const std::string& id, const compare::Observation& obs, double connect_ms,
                         double query_ms) {
    Check c{"reachability." + id, "reachability", "Reachability over " + id, Verdict::Pass, "",
            json::object()};
    c.rcode = rcode_words(obs);
    c.answer = answer_words(obs);
    if (obs.error || !obs.answered) {
        c.verdict = Verdict::Fail;
        c.detail = "no answer: " + obs.error.value_or("unparsable answer");
        c.answer.clear();
        return c;
    }
    const std::string timing = " in " + fmt_ms(connect_ms + query_ms) +
                               (connect_ms > 0 ? " (connect " + fmt_ms(connect_ms) + ")" : "");
    if (obs.rcode == wire::rcode::Refused) {
        // Gateway answers REFUSED to plain DNS from a source address that is in no location's
        // networks (and to DoH/DoT for a location it does not know): the resolver is there,
        // but this client is not a location. That is the customer's fault to fix, so a fail.
        c.verdict = Verdict::Fail;
        c.detail = "answered REFUSED" + timing +
                   ": this source IP is not a Gateway location? (add this network to a "
                   "location, or use the location's DoH/DoT endpoint)";
        return c;
    }
    c.detail = "answered " + wire::rcode_name(obs.rcode) + timing;
    return c;
}

void check_reachability(Context& cx, Report& r) {
    std::vector<session::Job> jobs;
    for (const auto& e : cx.endpoints) {
        jobs.push_back({e.target.url, cx.make_query(cx.opts.reach_name, wire::rrtype::A)});
    }
    const auto reach = cx.session.run(jobs);
    for (const char* id : kEndpointOrder) {
        Check c{std::string("reachability.") + id,
                "reachability",
                std::string("Reachability over ") + id,
                Verdict::Skipped,
                "not configured",
                json::object()};
        for (std::size_t i = 0; i < cx.endpoints.size(); ++i) {
            if (cx.endpoints[i].id != id) {
                continue;
            }
            const auto obs = session::observe(cx.endpoints[i].target, reach[i]);
            const auto& ex = reach[i].exchange;
            c = judge_reachability(id, obs, ex ? ex->connect_ms : 0, ex ? ex->query_ms : 0);
            c.data = {{"url", cx.endpoints[i].target.url.to_string()},
                      {"question", cx.opts.reach_name + " A"},
                      {"latency", latency_json(reach[i])},
                      {"rcode", rcode_json(obs)},
                      {"error", error_json(obs)}};
            if (obs.doh) {
                c.data["http_status"] = obs.http_status;
            }
            if (obs.answered && !obs.error) {
                cx.answering.push_back(&cx.endpoints[i]);
                if (obs.rcode != wire::rcode::Refused) {
                    cx.up.push_back(&cx.endpoints[i]);
                    cx.reach_obs[id] = obs;
                }
            }
        }
        r.checks.push_back(std::move(c));
    }
}

namespace {

Check judge_tls(const TlsFacts& f, const TlsProbeOptions& t) {
    Check c{"", "tls", "", Verdict::Pass, "", tls_facts_json(f)};
    const std::string issuer = f.chain.empty() ? std::string("?") : f.chain.front().issuer;
    if (!f.connected) {
        c.verdict = Verdict::Fail;
        c.detail = f.error;
    } else if (f.interception()) {
        c.verdict = Verdict::Fail;
        c.detail = "certificate chain does not lead to the expected issuer (issuer: " + issuer +
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
        c.detail = f.protocol + ", issuer " + issuer + ", valid " + std::to_string(f.days_left) +
                   " more days";
    }
    return c;
}

} // namespace

void check_tls(Context& cx, Report& r) {
    for (const bool dot : {true, false}) {
        const std::string id = dot ? "dot" : "doh";
        const Endpoint* e = cx.find(dot ? "dot" : "doh-h2");
        Check c{"tls." + id,
                "tls",
                std::string("TLS certificate of ") + (dot ? "DoT" : "DoH"),
                Verdict::Skipped,
                "not configured",
                json::object()};
        if (e != nullptr) {
            TlsProbeOptions t;
            t.host = e->target.url.host;
            t.port = e->target.url.port_or(dot ? 853 : 443);
            t.server_name = e->target.url.param("sni", e->target.url.host);
            t.trust_ca_file = cx.opts.ca;
            t.expected_issuer =
                cx.opts.expected_issuer.empty() && cx.lab ? cx.opts.ca : cx.opts.expected_issuer;
            t.alpn = {dot ? "dot" : "http/1.1"};
            if (!dot) {
                t.http_path = e->target.url.path.empty() ? "/dns-query" : e->target.url.path;
            }
            t.timeout_ms = std::max(cx.opts.timeout_ms, 1000U);
            const auto f = probe_tls(t);
            auto judged = judge_tls(f, t);
            c.verdict = judged.verdict;
            c.detail = judged.detail;
            c.data = judged.data;
            c.data["server_name"] = t.server_name;
            c.data["expected_issuer"] =
                t.expected_issuer.empty() ? json(nullptr) : json(t.expected_issuer);
            if (!dot) {
                cx.doh_tls = f;
            }
        }
        r.checks.push_back(std::move(c));
    }
}

Check judge_identity(const std::map<std::string, std::vector<std::string>>& identities) {
    json per = json::object();
    std::set<std::vector<std::string>> plain_ids;
    std::set<std::vector<std::string>> enc_ids;
    std::vector<std::string> silent;
    for (const auto& [id, txt] : identities) {
        per[id] = txt.empty() ? json(nullptr) : json(txt);
        if (txt.empty()) {
            silent.push_back(id);
            continue;
        }
        const bool plain = id.rfind("udp", 0) == 0 || id.rfind("tcp", 0) == 0;
        (plain ? plain_ids : enc_ids).insert(txt);
    }
    Check c{"interception.identity",
            "interception",
            "Resolver identity (id.server) across transports",
            Verdict::Pass,
            "",
            {{"identity", per}}};
    c.rcode = "";
    std::set<std::string> all;
    for (const auto* set : {&plain_ids, &enc_ids}) {
        for (const auto& v : *set) {
            all.insert(join(v, " "));
        }
    }
    c.answer = join({all.begin(), all.end()}, "; ");
    if (plain_ids.empty() && enc_ids.empty()) {
        c.verdict = identities.empty() ? Verdict::Skipped : Verdict::Info;
        c.detail = identities.empty() ? "no endpoint reachable"
                                      : "the resolver does not reveal an identity";
    } else if (!plain_ids.empty() && !enc_ids.empty() && plain_ids != enc_ids) {
        // The encrypted transports reach the intended resolver (their certificate says so);
        // plain DNS answered by another one means something on the path took it over.
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
    return c;
}

void check_interception(Context& cx, Report& r) {
    // Identity (id.server CH TXT, RFC 4892) over every endpoint that answers.
    const auto ids = cx.ask_each(cx.up, "id.server", wire::rrtype::TXT, wire::rrclass::CH);
    std::map<std::string, std::vector<std::string>> identities;
    for (std::size_t i = 0; i < cx.up.size(); ++i) {
        identities[cx.up[i]->id] = txt_answers(ids[i]);
    }
    r.checks.push_back(judge_identity(identities));

    // Answers only plain DNS gets: the reach answer over plain vs encrypted.
    Check a{"interception.answers",
            "interception",
            "Same answer over plain DNS and DoT/DoH",
            Verdict::Pass,
            "",
            json::object()};
    const compare::Observation* ref = nullptr;
    for (const char* id : {"doh-h2", "dot", "doh-h1"}) {
        if (cx.reach_obs.count(id) != 0U) {
            ref = &cx.reach_obs[id];
            break;
        }
    }
    std::vector<std::string> differ;
    json diffs = json::object();
    compare::CompareOptions copts;
    copts.ignore = {"flags.aa", "edns", "ede", "http", "answer.ttl", "authority", "additional"};
    for (const auto& [id, obs] : cx.reach_obs) {
        const auto* e = cx.find(id);
        if (ref == nullptr || e == nullptr || !is_plain(*e)) {
            continue;
        }
        if (auto d = compare::first_difference(*ref, obs, copts)) {
            differ.push_back(id);
            diffs[id] = {{"field", d->field}, {"encrypted", d->a}, {"plain", d->b}};
        }
    }
    a.data = {{"question", cx.opts.reach_name + " A"},
              {"reference", ref ? json(ref->target) : json(nullptr)},
              {"differences", diffs}};
    if (ref != nullptr) {
        a.rcode = rcode_words(*ref);
        a.answer = answer_words(*ref);
    }
    if (ref == nullptr) {
        a.verdict = Verdict::Skipped;
        a.detail = "no encrypted endpoint reachable to compare with";
    } else if (!differ.empty()) {
        a.verdict = Verdict::Fail;
        a.detail = "plain DNS (" + join(differ) + ") gets a different answer than " + ref->target +
                   ": intercepted or rewritten";
    } else {
        a.detail = "plain and encrypted answers agree";
    }
    r.checks.push_back(std::move(a));
}

namespace {

// The cases the policy step asks: the expectation file's, then the test names and the
// customer's names not already covered (expected outcome unknown).
std::vector<check::Case> policy_cases(const Options& o, Report& r) {
    std::vector<check::Case> cases;
    if (!o.expect_file.empty()) {
        std::ifstream in(o.expect_file);
        std::ostringstream s;
        s << in.rdbuf();
        auto parsed = check::parse_cases(s.str());
        if (parsed) {
            cases = *parsed;
        } else {
            r.checks.push_back({"policy.expectations", "policy", "Expectation file", Verdict::Fail,
                                o.expect_file + ": " + parsed.error().detail, json::object()});
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
    return cases;
}

std::string policy_id(const check::Case& cs, std::set<std::string>& used) {
    std::string id =
        "policy." + cs.qname + (cs.qtype == wire::rrtype::A ? "" : "/" + wire::type_name(cs.qtype));
    const std::string base = id;
    for (int n = 2; !used.insert(id).second; ++n) {
        id = base + "#" + std::to_string(n);
    }
    return id;
}

std::string classification_words(const std::string& cls) {
    // Gateway's REFUSED to a client that is no location is not a policy block.
    return cls == "refused" ? "resolver refused (not a Gateway location?)" : cls;
}

Check judge_policy(const check::Case& cs, std::size_t ci, const check::CheckReport& rep,
                   const std::set<std::string>& refusing, std::set<std::string>& used) {
    Check c{policy_id(cs, used),
            "policy",
            "Policy outcome of " + cs.qname + " " + wire::type_name(cs.qtype),
            Verdict::Skipped,
            "no endpoint reachable",
            json::object()};
    std::vector<std::string> classes;
    std::vector<std::string> failures;
    std::map<std::string, std::vector<std::string>> by_class;
    std::map<std::string, std::vector<std::string>> by_rcode;
    std::set<std::string> answers;
    json outcomes = json::object();
    std::vector<compare::Observation> all;
    for (const auto& res : rep.results) {
        if (res.case_index == ci && res.asked) {
            all.push_back(res.observation);
        }
    }
    for (const auto& res : rep.results) {
        if (res.case_index != ci) {
            continue;
        }
        if (!res.asked) {
            failures.insert(failures.end(), res.failures.begin(), res.failures.end());
            continue;
        }
        const auto& obs = res.observation;
        const auto labels = compare::sinkhole_labels(obs, cs.qtype, all);
        const auto cls = classify(obs, labels, cs, refusing.count(res.target) != 0U);
        classes.push_back(cls);
        by_class[cls].push_back(res.target);
        by_rcode[rcode_words(obs)].push_back(res.target);
        answers.insert(answer_words(obs));
        std::vector<std::string> rdata;
        for (const auto& rr : obs.answer) {
            rdata.insert(rdata.end(), rr.rdata.begin(), rr.rdata.end());
        }
        outcomes[res.target] = {{"classification", cls},    {"labels", labels},
                                {"rcode", rcode_json(obs)}, {"answer", rdata},
                                {"error", error_json(obs)}, {"failures", res.failures}};
        for (const auto& f : res.failures) {
            failures.push_back(res.target + ": " + f);
        }
    }
    const bool exp = has_expectation(cs);
    c.data = {{"name", cs.qname},
              {"type", wire::type_name(cs.qtype)},
              {"expect",
               exp ? json(cs.outcome.empty() ? "(rcode/answer/ede)" : cs.outcome) : json(nullptr)},
              {"outcomes", outcomes},
              {"failures", failures}};
    if (classes.empty() && failures.empty()) {
        return c;
    }
    c.verdict = policy_verdict(classes, exp, failures);
    std::vector<std::string> parts;
    for (const auto& [cls, who] : by_class) {
        parts.push_back(classification_words(cls) + " on " + join(who));
    }
    c.detail = join(parts, "; ");
    if (c.verdict == Verdict::Fail && !failures.empty()) {
        c.detail += " (expected " + (cs.outcome.empty() ? std::string("see data") : cs.outcome) +
                    ": " + failures.front() + ")";
    }
    c.data["classification"] = by_class.size() == 1 ? json(by_class.begin()->first) : json("mixed");
    c.rcode = rcodes_words(by_rcode);
    c.answer = join({answers.begin(), answers.end()}, "; ");
    return c;
}

} // namespace

void check_policy(Context& cx, Report& r) {
    auto cases = policy_cases(cx.opts, r);
    std::vector<common::Target> targets;
    for (const auto* e : cx.answering) {
        targets.push_back(e->target);
    }
    check::CheckReport rep;
    if (!targets.empty()) {
        rep = check::run_check(cx.session, targets, cases, cx.query, nullptr);
    }
    // Endpoints that refused the reach name too: their REFUSED is about the client.
    std::set<std::string> refusing;
    for (const auto* e : cx.answering) {
        if (std::find(cx.up.begin(), cx.up.end(), e) == cx.up.end()) {
            refusing.insert(e->id);
        }
    }
    std::set<std::string> used;
    for (std::size_t ci = 0; ci < cases.size(); ++ci) {
        r.checks.push_back(judge_policy(cases[ci], ci, rep, refusing, used));
    }
}

namespace {

Check check_edns(const Context& cx) {
    Check c{"features.edns",         "features",    "EDNS (RFC 6891) in answers", Verdict::Skipped,
            "no endpoint reachable", json::object()};
    json per = json::object();
    std::vector<std::string> without;
    for (const auto& [id, obs] : cx.reach_obs) {
        per[id] = obs.edns.has_value() ? json({{"present", *obs.edns}, {"udp_size", obs.udp_size}})
                                       : json(nullptr);
        if (obs.edns.has_value() && !*obs.edns) {
            without.push_back(id);
        }
    }
    if (cx.reach_obs.empty()) {
        return c;
    }
    c.data = {{"endpoints", per}};
    c.verdict = without.empty() ? Verdict::Pass : Verdict::Fail;
    c.detail = without.empty() ? "OPT record present on every transport"
                               : "no OPT record over " + join(without);
    if (const auto it = cx.reach_obs.find("udp4"); without.empty() && it != cx.reach_obs.end()) {
        c.data["udp_size"] = it->second.udp_size;
        c.detail += " (UDP payload size " + std::to_string(it->second.udp_size) + ")";
        c.answer = "OPT, UDP payload size " + std::to_string(it->second.udp_size);
    }
    return c;
}

// What a switched-off or unconfigured name check says.
std::string name_off(const std::optional<std::string>& name, const char* flag) {
    return name ? std::string("switched off (") + flag + " '')"
                : std::string("no name configured (") + flag + " NAME)";
}

json side_json(const compare::Observation& o, const session::Outcome& out) {
    return {{"error", error_json(o)},
            {"rcode", rcode_json(o)},
            {"tc", o.flags.tc.value_or(false)},
            {"records", record_count(o)},
            {"bytes", out.exchange ? out.exchange->wire.size() : 0}};
}

Check check_tcp_fallback(Context& cx) {
    Check c{"features.tcp-fallback", "features", "Large answer: TC over UDP, then TCP",
            Verdict::Skipped,        "",         json::object()};
    const auto& name = cx.opts.large_name;
    const Endpoint* u = nullptr;
    const Endpoint* t = nullptr;
    for (const char* fam : {"4", "6"}) {
        if (cx.reach_obs.count(std::string("udp") + fam) != 0U &&
            cx.reach_obs.count(std::string("tcp") + fam) != 0U) {
            u = cx.find(std::string("udp") + fam);
            t = cx.find(std::string("tcp") + fam);
            break;
        }
    }
    if (!name || name->empty()) {
        c.detail = name_off(name, "--large-name");
        return c;
    }
    if (u == nullptr) {
        c.detail = "needs reachable UDP and TCP endpoints of one address family";
        return c;
    }
    const std::vector<session::Job> jobs{{u->target.url, cx.make_query(*name, wire::rrtype::TXT)},
                                         {t->target.url, cx.make_query(*name, wire::rrtype::TXT)}};
    const auto out = cx.session.run(jobs);
    const auto ou = session::observe(u->target, out[0]);
    const auto ot = session::observe(t->target, out[1]);
    const bool udp_tc = ou.flags.tc.value_or(false);
    const bool tcp_tc = ot.flags.tc.value_or(false);
    c.data = {{"question", *name + " TXT"},
              {"udp", side_json(ou, out[0])},
              {"tcp", side_json(ot, out[1])}};
    c.rcode = rcode_words(ot);
    c.answer = std::to_string(record_count(ot)) + " TXT records over TCP" +
               (udp_tc ? ", TC over UDP" : "");
    if (ou.error || ot.error) {
        c.verdict = Verdict::Fail;
        c.detail = ou.error ? "UDP: " + *ou.error : "TCP: " + *ot.error;
    } else if (!udp_tc && not_served(ot)) {
        c.detail = not_served_words(*name, ot) +
                   ": the check needs a name with a TXT answer above 1232 bytes (--large-name "
                   "NAME, '' switches it off)";
    } else if (tcp_tc || record_count(ot) == 0) {
        c.verdict = Verdict::Fail;
        c.detail = "TCP did not return the full answer";
    } else if (!udp_tc && record_count(ou) < record_count(ot)) {
        c.verdict = Verdict::Fail;
        c.detail = "UDP answer is incomplete but TC is not set";
    } else {
        c.verdict = Verdict::Pass;
        c.detail = udp_tc
                       ? "UDP answer truncated (TC), TCP returned all " +
                             std::to_string(record_count(ot)) + " records"
                       : "the answer fit in UDP (" + std::to_string(record_count(ou)) + " records)";
    }
    return c;
}

Check check_dnssec(Context& cx) {
    Check c{"features.dnssec-ad", "features", "DNSSEC validation (AD bit)",
            Verdict::Skipped,     "",         json::object()};
    const auto& name = cx.opts.signed_name;
    const Endpoint* e = cx.up.empty() ? nullptr : cx.up.front();
    if (cx.lab && !name) {
        c.verdict = Verdict::NotApplicable;
        c.detail = "the lab fixture zones are unsigned";
        return c;
    }
    if (!name || name->empty()) {
        c.detail = name_off(name, "--signed-name");
        return c;
    }
    if (e == nullptr) {
        c.detail = "no endpoint reachable";
        return c;
    }
    auto dq = cx.query;
    dq.dnssec_ok = true;
    const std::vector<session::Job> jobs{
        {e->target.url, cx.make_query(*name, wire::rrtype::A, wire::rrclass::IN, dq)}};
    const auto obs = session::observe(e->target, cx.session.run(jobs)[0]);
    const bool ad = obs.flags.ad.value_or(false);
    c.data = {{"question", *name + " A +dnssec"},
              {"endpoint", e->id},
              {"ad", ad},
              {"rcode", rcode_json(obs)}};
    c.rcode = rcode_words(obs);
    c.answer = ad ? "AD set" : "AD not set";
    if (obs.error) {
        c.verdict = Verdict::Fail;
        c.detail = *obs.error;
    } else if (not_served(obs)) {
        c.detail = not_served_words(*name, obs) +
                   ": the check needs a DNSSEC-signed name (--signed-name NAME)";
    } else {
        c.verdict = ad ? Verdict::Pass : Verdict::Fail;
        c.detail = ad ? "AD set on " + *name : "AD not set on the signed name " + *name;
    }
    return c;
}

Check check_ede(Context& cx) {
    Check c{"features.ede",   "features", "Extended DNS Errors (RFC 8914) on errors",
            Verdict::Skipped, "",         json::object()};
    const auto& name = cx.opts.error_name;
    if (!name || name->empty()) {
        c.detail = name_off(name, "--error-name");
        return c;
    }
    if (cx.up.empty()) {
        c.detail = "no endpoint reachable";
        return c;
    }
    const auto obs = cx.ask_each(cx.up, *name, wire::rrtype::A);
    json per = json::object();
    std::vector<std::string> with, without, unserved;
    std::map<std::string, std::vector<std::string>> by_rcode;
    std::set<std::string> edes;
    for (std::size_t i = 0; i < cx.up.size(); ++i) {
        const auto& o = obs[i];
        json codes = json::array();
        for (const auto& e : o.ede) {
            codes.push_back({{"code", e.code}, {"text", e.text}});
            edes.insert("EDE " + std::to_string(e.code) + (e.text.empty() ? "" : ": " + e.text));
        }
        const auto& id = cx.up[i]->id;
        per[id] = {{"rcode", rcode_json(o)}, {"ede", codes}, {"error", error_json(o)}};
        by_rcode[rcode_words(o)].push_back(id);
        if (!o.answered || o.rcode == wire::rcode::NoError || not_served(o)) {
            unserved.push_back(id);
        } else {
            (o.ede.empty() ? without : with).push_back(id);
        }
    }
    c.data = {{"question", *name + " A"}, {"endpoints", per}};
    c.rcode = rcodes_words(by_rcode);
    c.answer = edes.empty() ? "no EDE" : join({edes.begin(), edes.end()}, "; ");
    if (!without.empty()) {
        c.verdict = Verdict::Fail;
        c.detail = "error answer without EDE over " + join(without);
    } else if (!with.empty()) {
        c.verdict = Verdict::Pass;
        c.detail = "EDE present on the error answer over " + join(with);
    } else {
        c.detail = not_served_words(*name, obs.front()) +
                   " as an error: the check needs a name whose answer is an error (--error-name "
                   "NAME, '' switches it off)";
    }
    return c;
}

} // namespace

void check_features(Context& cx, Report& r) {
    r.checks.push_back(check_edns(cx));
    r.checks.push_back(check_tcp_fallback(cx));
    r.checks.push_back(check_dnssec(cx));
    r.checks.push_back(check_ede(cx));
}

void check_clock(Context& cx, Report& r) {
    Check c{"local.clock",    "local",           "Clock offset against the DoH endpoint",
            Verdict::Skipped, "no DoH endpoint", json::object()};
    if (const auto& f = cx.doh_tls) {
        c.data = {{"http_date", f->http_date ? json(*f->http_date) : json(nullptr)},
                  {"offset_s", f->clock_offset_s ? json(*f->clock_offset_s) : json(nullptr)}};
        if (f->clock_offset_s) {
            const long off = *f->clock_offset_s;
            c.verdict = std::labs(off) > kClockWarnSeconds ? Verdict::Warn : Verdict::Pass;
            c.detail = "local clock is " + std::to_string(off) + " s " +
                       (off >= 0 ? "ahead of" : "behind") + " the DoH endpoint";
            c.answer = "Date: " + f->http_date.value_or("");
        } else {
            c.verdict = Verdict::NotApplicable;
            c.detail = f->connected ? "the DoH endpoint sent no Date header"
                                    : "DoH endpoint not reachable over TLS";
        }
    }
    r.checks.push_back(std::move(c));
}

} // namespace probes::selftest
