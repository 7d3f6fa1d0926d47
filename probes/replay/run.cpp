// SPDX-License-Identifier: MIT
// `replay`, step by step: read the customer's log, gather the scenario's facts, synthesise
// what the log implies, start the lab, ask every record again, read the lab's own log,
// compare, render.
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <thread>
#include <unordered_map>

#include <toml++/toml.h>

#include "probes/common/lines.hpp"
#include "probes/common/query.hpp"
#include "probes/common/strings.hpp"
#include "probes/replay/in_process.hpp"
#include "probes/replay/replay.hpp"
#include "probes/report/formats.hpp"
#include "probes/session/session.hpp"
#include "resolver/net/transport.hpp"
#include "resolver/util/file.hpp"
#include "resolver/util/url.hpp"
#include "resolver/wire/message.hpp"

namespace probes::replay {
namespace fs = std::filesystem;
namespace net = resolver::net;
namespace wire = resolver::wire;
using nlohmann::json;
using resolver::Errc;
using resolver::fail;
using resolver::Result;
using resolver::util::read_file;

using common::json_string;
using common::lower;

namespace {

constexpr int kExitCannotRun = 2;
constexpr std::size_t kBatch = 5000; // progress granularity; connections survive batches

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
}

// Step 1: the customer's log, as records to re-ask.
Result<std::vector<LogRecord>> read_records(const Options& o) {
    auto in = common::LineReader::open(o.logfile); // JSON lines, gzip (Logpush) or not
    if (!in) {
        return in.error();
    }
    std::vector<LogRecord> recs;
    std::size_t n = 0;
    std::string err;
    for (std::optional<std::string> next; (next = in->next());) {
        const std::string& line = *next;
        ++n;
        if (line.find_first_not_of(" \t\r") == std::string::npos) {
            continue;
        }
        auto r = parse_record(line, n, err);
        if (!err.empty()) {
            return fail(Errc::ConfigInvalid, o.logfile.string() + ": " + err);
        }
        if (!r) {
            continue;
        }
        if (!o.protocol.empty()) {
            r->protocol = normalise_protocol(o.protocol);
        }
        recs.push_back(std::move(*r));
        if (o.limit != 0 && recs.size() >= o.limit) {
            break;
        }
    }
    if (!in->error().empty()) {
        return fail(Errc::ConfigInvalid, in->error());
    }
    if (recs.empty()) {
        return fail(Errc::ConfigInvalid, o.logfile.string() + ": no gateway_dns query records");
    }
    return recs;
}

// Step 2: what the scenario already knows: its locations, categories and fixture zones.
struct ScenarioFacts {
    std::map<std::string, std::string> subdomain_by_location; // id and name -> subdomain
    std::map<std::string, std::string> id_by_subdomain;
    std::string categories_csv;
    std::vector<std::string> zone_origins;
    fs::path fixture_dir; // "" when the lab's upstream is not one fixture
    std::string fixture_params;
};

Result<ScenarioFacts> scenario_facts(const scenario::Scenario& sc) {
    toml::table cfg;
    try {
        cfg = toml::parse(sc.lab_toml);
    } catch (const toml::parse_error& e) {
        return fail(Errc::ConfigInvalid,
                    std::string("scenario [lab]: ") + std::string(e.description()));
    }
    auto path_of = [&](const std::string& rel) {
        return fs::path(rel).is_absolute() ? fs::path(rel) : sc.dir / rel;
    };
    ScenarioFacts f;
    if (auto loc = cfg["policy"]["locations"].value<std::string>()) {
        auto j = json::parse(read_file(path_of(*loc)).value_or(""), nullptr, false);
        const json& arr = j.is_object() && j.contains("result") ? j["result"] : j;
        if (arr.is_array()) {
            for (const auto& l : arr) {
                const auto sub = json_string(l, "doh_subdomain");
                f.subdomain_by_location[json_string(l, "id")] = sub;
                f.subdomain_by_location[json_string(l, "name")] = sub;
                f.id_by_subdomain[sub] = json_string(l, "id");
            }
        }
    }
    if (auto c = cfg["policy"]["categories"].value<std::string>()) {
        f.categories_csv = read_file(path_of(*c)).value_or("");
    }
    if (const auto* ups = cfg["upstream"].as_array(); ups != nullptr && ups->size() == 1) {
        const std::string u = ups->front().value_or(std::string{});
        if (u.rfind("fixture:", 0) == 0) {
            auto q = u.find('?');
            f.fixture_dir =
                path_of(u.substr(8, q == std::string::npos ? std::string::npos : q - 8));
            f.fixture_params = q == std::string::npos ? "" : u.substr(q);
            f.zone_origins = zone_origins(f.fixture_dir);
        }
    }
    return f;
}

// Step 3: the synthesised categories and zones, written where the lab reads them. The
// directory goes away with this object unless --keep.
class Generated {
public:
    static Result<std::unique_ptr<Generated>> write(const Synthesised& syn,
                                                    const ScenarioFacts& facts, bool keep) {
        std::error_code ec;
        std::string tmpl = (fs::temp_directory_path(ec) / "dnslab-replay-XXXXXX").string();
        if (ec || mkdtemp(tmpl.data()) == nullptr) {
            return fail(Errc::Internal, "cannot create a temporary directory");
        }
        std::unique_ptr<Generated> g(new Generated(tmpl, keep));
        std::ofstream(g->dir_ / "categories.csv") << syn.categories_csv;
        g->categories_ = (g->dir_ / "categories.csv").string();
        g->lab_args_ = {"--categories", g->categories_};
        if (!facts.fixture_dir.empty()) {
            fs::create_directories(g->dir_ / "zones", ec);
            for (const auto& e : fs::directory_iterator(facts.fixture_dir, ec)) {
                if (e.path().extension() == ".zone") {
                    fs::copy_file(e.path(), g->dir_ / "zones" / e.path().filename(), ec);
                }
            }
            for (const auto& [name, text] : syn.zone_files) {
                std::ofstream(g->dir_ / "zones" / name) << text;
            }
            g->upstream_ = "fixture:" + (g->dir_ / "zones").string() + facts.fixture_params;
            g->lab_args_.insert(g->lab_args_.end(), {"--upstream", g->upstream_});
        }
        return g;
    }
    ~Generated() {
        std::error_code ec;
        if (!keep_) {
            fs::remove_all(dir_, ec);
        }
    }
    Generated(const Generated&) = delete;
    Generated& operator=(const Generated&) = delete;
    /// The lab's extra command line: the synthesised categories and zones.
    [[nodiscard]] const std::vector<std::string>& lab_args() const { return lab_args_; }
    [[nodiscard]] const std::string& categories() const { return categories_; }
    /// The synthesised fixture upstream; "" when the scenario's upstream is not a fixture.
    [[nodiscard]] const std::string& upstream() const { return upstream_; }
    /// A scratch folder inside the generated one.
    [[nodiscard]] fs::path scratch(const std::string& name) const { return dir_ / name; }

private:
    Generated(fs::path dir, bool keep) : dir_(std::move(dir)), keep_(keep) {}
    fs::path dir_;
    bool keep_;
    std::vector<std::string> lab_args_;
    std::string categories_, upstream_;
};

// Step 4: one query per record, over the record's protocol, carrying its location hint;
// `expected_location[i]` is the location ID the lab should log for it.
struct Plan {
    std::vector<PlannedQuery> queries;
    std::vector<std::string> expected_location;
};

Plan plan_queries(const std::vector<LogRecord>& recs, const ScenarioFacts& facts) {
    Plan p;
    p.queries.reserve(recs.size());
    p.expected_location.resize(recs.size());
    for (std::size_t i = 0; i < recs.size(); ++i) {
        const auto& r = recs[i];
        const std::string hint = location_hint(r, facts.subdomain_by_location);
        p.expected_location[i] =
            facts.id_by_subdomain.count(hint) != 0U ? facts.id_by_subdomain.at(hint) : "";
        common::QueryOptions q;
        if (net::transport_from_name(r.protocol) != net::Transport::Https) {
            q.location = hint; // EDNS 65011: loopback cannot carry the customer's source address
        }
        auto wq =
            common::build_query({r.qname, r.qtype}, q, static_cast<std::uint16_t>(i & 0xFFFF));
        p.queries.push_back(
            {r.protocol, hint, wq ? std::move(wq).value() : std::vector<std::uint8_t>{}});
    }
    return p;
}

resolver::util::Url lab_url(const scenario::Lab& l, const std::string& proto,
                            const std::string& hint) {
    resolver::util::Url u;
    u.host = "127.0.0.1";
    u.scheme = proto;
    u.port = static_cast<std::uint16_t>(l.ports.count(proto) != 0U ? l.ports.at(proto) : 0);
    const auto kind = net::transport_from_name(proto);
    if (kind == net::Transport::Udp) {
        u.params["tc"] = "keep";
    } else if (kind == net::Transport::Tls) {
        u.params["ca"] = l.ca;
    } else if (kind == net::Transport::Https) {
        u.path = hint.empty() ? "/dns-query" : "/dns-query/" + hint;
        u.params["ca"] = l.ca;
        u.params["method"] = "post";
    }
    return u;
}

std::vector<session::Job> lab_jobs(const Plan& plan, const scenario::Lab& l) {
    std::vector<session::Job> jobs;
    jobs.reserve(plan.queries.size());
    for (const auto& q : plan.queries) {
        jobs.push_back({lab_url(l, q.protocol, q.hint), q.wire});
    }
    return jobs;
}

// Step 5: ask, in batches so a long log shows progress.
Result<std::vector<session::Outcome>> ask(const std::vector<session::Job>& jobs, const Options& o) {
    resolver::upstream::UpstreamOptions uopts;
    uopts.timeout_ms = o.timeout_ms;
    uopts.connect_timeout_ms = o.timeout_ms;
    uopts.tries = 2; // a UDP datagram lost on a busy loopback must not count as a disagreement
    auto session = session::ProbeSession::open(uopts);
    if (!session) {
        return session.error();
    }
    std::vector<session::Outcome> outcomes;
    outcomes.reserve(jobs.size());
    for (std::size_t off = 0; off < jobs.size(); off += kBatch) {
        std::vector<session::Job> batch(
            jobs.begin() + static_cast<std::ptrdiff_t>(off),
            jobs.begin() + static_cast<std::ptrdiff_t>(std::min(jobs.size(), off + kBatch)));
        auto res = (*session)->run(batch, o.concurrency);
        outcomes.insert(outcomes.end(), std::make_move_iterator(res.begin()),
                        std::make_move_iterator(res.end()));
        if (jobs.size() > kBatch) {
            std::cerr << "\rreplay: " << outcomes.size() << "/" << jobs.size() << " queries"
                      << std::flush;
        }
    }
    if (jobs.size() > kBatch) {
        std::cerr << "\n";
    }
    return outcomes;
}

// Step 6: the lab's own log, one line per query that reached it. The writer flushes on its
// schedule, so wait (bounded) for those lines, then stop the lab and read them.
std::vector<json> lab_log(scenario::Lab& l, const std::vector<session::Outcome>& outcomes) {
    std::size_t reached = 0;
    for (const auto& oc : outcomes) {
        reached += oc.exchange ? 1 : 0;
    }
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    auto logged = [&] {
        // Counting newlines is enough here (the query log holds one line per query, its
        // LabEvent lines go to the event log); the JSON is parsed once, after the stop.
        std::ifstream in(l.log, std::ios::binary);
        return static_cast<std::size_t>(
            std::count(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>(), '\n'));
    };
    while (logged() < reached && Clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    l.stop();
    return l.records();
}

// The lab's decision per query key; `ambiguous` when identical queries were decided apart.
struct LabView {
    std::string decision, policy;
    bool ambiguous = false;
};

std::unordered_map<std::string, LabView> index_lab(const std::vector<json>& lab_recs) {
    std::unordered_map<std::string, LabView> by_key;
    for (const auto& r : lab_recs) {
        std::uint16_t t = r.contains("QueryType") && r["QueryType"].is_number_unsigned()
                              ? r["QueryType"].get<std::uint16_t>()
                              : 0;
        const auto key = match_key(lower(json_string(r, "QueryName")), t,
                                   json_string(r, "Protocol"), json_string(r, "LocationID"));
        LabView v{json_string(r, "ResolverDecision"), json_string(r, "PolicyID"), false};
        auto [it, fresh] = by_key.try_emplace(key, v);
        if (!fresh && (it->second.decision != v.decision || it->second.policy != v.policy)) {
            it->second.ambiguous = true;
        }
    }
    return by_key;
}

// What the lab answered one record: rcode and addresses, or why there is no answer.
void read_answer(const session::Outcome& oc, Verdict& v) {
    if (!oc.exchange) {
        v.error = oc.error.empty() ? "no answer" : oc.error;
        return;
    }
    v.timed = true;
    v.reused = oc.exchange->reused_connection;
    v.connect_ms = oc.exchange->connect_ms;
    v.query_ms = oc.exchange->query_ms;
    auto m = wire::parse(oc.exchange->wire);
    if (!m) {
        v.error = oc.exchange->http_status != 0 && oc.exchange->http_status != 200
                      ? "HTTP " + std::to_string(oc.exchange->http_status)
                      : "unparsable answer: " + m.failure.reason;
        return;
    }
    v.lab_rcode = m.message->rcode();
    for (const auto& rr : m.message->answer) {
        if (auto ip = wire::address_text(rr); !ip.empty()) {
            v.lab_ips.push_back(ip);
        }
    }
}

std::vector<std::string> sorted_unique(std::vector<std::string> v) {
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());
    return v;
}

// Step 7: each record against the lab's answer and log line.
Verdict judge(const LogRecord& r, const session::Outcome& oc, const std::string& expected_loc,
              const std::unordered_map<std::string, LabView>& lab) {
    Verdict v;
    read_answer(oc, v);
    auto it = lab.find(match_key(r.qname, r.qtype, r.protocol, expected_loc));
    if (it == lab.end()) {
        if (v.error.empty()) {
            v.error = "no lab log line for this query (location attribution differs?)";
        }
    } else {
        v.lab_decision = it->second.decision;
        v.lab_policy_id = it->second.policy;
        if (it->second.ambiguous) {
            v.error = "the lab logged different decisions for identical queries";
        }
    }
    if (v.error.empty()) {
        v.decision_ok = r.decision.empty() || r.decision == v.lab_decision;
        v.policy_ok = r.policy_id == v.lab_policy_id;
        v.answer_ok = sorted_unique(r.resolved_ips) == sorted_unique(v.lab_ips);
        v.rcode_ok = !r.rcode || !v.lab_rcode || *r.rcode == *v.lab_rcode;
    }
    return v;
}

// Steps 5 and 6 through a child resolver: start it, ask over its sockets, read its log.
Result<LabRun> ask_child_resolver(const scenario::Scenario& sc, const Generated& generated,
                                  const Plan& plan, const Options& o, ReplayReport& rep) {
    auto start = o.start;
    start.extra_lab_args = generated.lab_args();
    auto lab = scenario::start_lab(sc, start);
    if (!lab) {
        return fail(Errc::ConfigInvalid, sc.name + ": " + lab.error().detail);
    }
    const auto t_ask = Clock::now();
    auto outcomes = ask(lab_jobs(plan, **lab), o);
    if (!outcomes) {
        return outcomes.error();
    }
    rep.ask_seconds = seconds_since(t_ask);
    LabRun run;
    run.log = lab_log(**lab, *outcomes);
    run.outcomes = std::move(outcomes).value();
    return run;
}

// Steps 5 and 6: in this process through the stage runner when the scenario allows it (the
// same code the child resolver runs, minus its sockets), else through a child resolver.
Result<LabRun> ask_lab(const scenario::Scenario& sc, const Generated& generated, const Plan& plan,
                       const Options& o, ReplayReport& rep) {
    rep.why_child_resolver = o.child_resolver
                                 ? "--child-resolver"
                                 : needs_child_resolver(sc, !generated.upstream().empty());
    if (rep.why_child_resolver.empty()) {
        const auto t_ask = Clock::now();
        const std::size_t total = plan.queries.size();
        auto run = run_in_process(sc, generated.scratch("in-process"), generated.categories(),
                                  generated.upstream(), plan.queries, [total](std::size_t done) {
                                      if (total > kBatch) {
                                          std::cerr << "\rreplay: " << done << "/" << total
                                                    << " queries" << (done == total ? "\n" : "")
                                                    << std::flush;
                                      }
                                  });
        if (run) {
            rep.ask_seconds = seconds_since(t_ask);
            rep.mode = "in-process";
            return run;
        }
        rep.why_child_resolver = run.error().detail;
    }
    rep.mode = "child-resolver";
    return ask_child_resolver(sc, generated, plan, o, rep);
}

int cannot(const std::string& what) {
    std::cerr << "dnslab-probe replay: " << what << "\n";
    return kExitCannotRun;
}

} // namespace

void ReplayReport::tally() {
    agree = decision_differs = policy_differs = answer_differs = rcode_differs = errors = 0;
    decisions.clear();
    for (std::size_t i = 0; i < records.size() && i < verdicts.size(); ++i) {
        const auto& r = records[i];
        const auto& v = verdicts[i];
        decisions[(r.decision.empty() ? "-" : r.decision) + " -> " +
                  (v.lab_decision.empty() ? "-" : v.lab_decision)]++;
        const bool judged = v.error.empty();
        agree += v.agree() ? 1 : 0;
        errors += judged ? 0 : 1;
        decision_differs += judged && !v.decision_ok ? 1 : 0;
        policy_differs += judged && !v.policy_ok ? 1 : 0;
        answer_differs += judged && !v.answer_ok ? 1 : 0;
        rcode_differs += judged && !v.rcode_ok ? 1 : 0;
    }
}

int run_replay(const Options& o) {
    const auto t0 = Clock::now();
    auto outputs = report::requested_outputs(o.json ? "json" : "text", o.junit, o.html, o.reports);
    if (!outputs) {
        return cannot(outputs.error().detail);
    }
    auto sc = scenario::load_scenario(o.scenario);
    if (!sc) {
        return cannot(sc.error().detail);
    }
    auto recs = read_records(o);
    if (!recs) {
        return cannot(recs.error().detail);
    }
    auto facts = scenario_facts(*sc);
    if (!facts) {
        return cannot(facts.error().detail);
    }
    ReplayReport rep;
    rep.scenario = sc->name;
    rep.logfile = o.logfile.string();
    rep.synthesised = synthesise(*recs, facts->categories_csv, facts->zone_origins);
    auto generated = Generated::write(rep.synthesised, *facts, o.start.keep);
    if (!generated) {
        return cannot(generated.error().detail);
    }
    const auto plan = plan_queries(*recs, *facts);
    auto lab = ask_lab(*sc, **generated, plan, o, rep);
    if (!lab) {
        return cannot(lab.error().detail);
    }
    const auto by_key = index_lab(lab->log);
    const auto& outcomes = lab->outcomes;
    rep.records = std::move(recs).value();
    for (std::size_t i = 0; i < rep.records.size(); ++i) {
        rep.verdicts.push_back(
            judge(rep.records[i], outcomes[i], plan.expected_location[i], by_key));
    }
    rep.tally();
    rep.total_seconds = seconds_since(t0);
    if (auto st = report::write_outputs(to_document(rep), *outputs, {}); !st) {
        return cannot(st.error().detail);
    }
    return rep.exit_code();
}

} // namespace probes::replay
