// SPDX-License-Identifier: MIT
// `replay`: re-ask every query of a customer's gateway_dns export through a scenario and
// report, per record, whether the lab's decision, policy and answer agree with the log.
#include "resolver/util/file.hpp"
#include "probes/replay/replay.hpp"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <iterator>
#include <set>
#include <sstream>
#include <thread>
#include <unordered_map>

#include <toml++/toml.h>
#include <uv.h>

#include "probes/common/lines.hpp"
#include "probes/common/query.hpp"
#include "probes/matrix/engine.hpp"
#include "resolver/util/url.hpp"
#include "resolver/wire/message.hpp"

namespace probes::replay {
namespace fs = std::filesystem;
namespace wire = resolver::wire;
using nlohmann::json;

namespace {

constexpr int kExitAgree = 0;
constexpr int kExitDisagree = 1;
constexpr int kExitCannotRun = 2;
constexpr std::size_t kBatch = 5000; // progress granularity; connections survive batches

using resolver::util::read_file;

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

std::string str(const json& j, const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string{};
}

std::string normalise_protocol(std::string p) {
    p = lower(p);
    if (p == "doh" || p == "https" || p == "http") {
        return "https";
    }
    if (p == "dot" || p == "tls") {
        return "tls";
    }
    if (p == "tcp") {
        return "tcp";
    }
    return "udp";
}

std::string join(const std::vector<std::string>& v) {
    std::string out;
    for (const auto& s : v) {
        out += (out.empty() ? "" : ",") + s;
    }
    return out;
}

// Origins of the scenario's fixture zones: from `$ORIGIN` or the file name.
std::vector<std::string> zone_origins(const fs::path& dir) {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
        if (e.path().extension() != ".zone") {
            continue;
        }
        std::string origin = e.path().stem().string();
        std::ifstream in(e.path());
        for (std::string line; std::getline(in, line);) {
            if (line.rfind("$ORIGIN", 0) == 0) {
                std::istringstream ls(line.substr(7));
                ls >> origin;
                break;
            }
        }
        while (!origin.empty() && origin.back() == '.') {
            origin.pop_back();
        }
        out.push_back(lower(origin));
    }
    return out;
}

bool under(const std::string& name, const std::string& origin) {
    return name == origin ||
           (name.size() > origin.size() &&
            name.compare(name.size() - origin.size(), origin.size(), origin) == 0 &&
            name[name.size() - origin.size() - 1] == '.');
}

} // namespace

std::optional<LogRecord> parse_record(const std::string& line, std::size_t line_no,
                                      std::string& error) {
    error.clear();
    auto j = json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
        error = "line " + std::to_string(line_no) + ": not a JSON object";
        return std::nullopt;
    }
    if (j.contains("LabEvent") || !j.contains("QueryName")) {
        return std::nullopt;
    }
    LogRecord r;
    r.line = line_no;
    r.qname = lower(str(j, "QueryName"));
    while (!r.qname.empty() && r.qname.back() == '.') {
        r.qname.pop_back();
    }
    if (r.qname.empty()) {
        return std::nullopt;
    }
    if (j.contains("QueryType") && j["QueryType"].is_number_unsigned()) {
        r.qtype = j["QueryType"].get<std::uint16_t>();
    } else if (auto t = wire::type_from_name(str(j, "QueryTypeName"))) {
        r.qtype = *t;
    }
    r.protocol = normalise_protocol(str(j, "Protocol"));
    r.src_ip = str(j, "SrcIP");
    r.doh_subdomain = str(j, "DoHSubdomain");
    r.dot_subdomain = str(j, "DoTSubdomain");
    r.location = str(j, "Location");
    r.location_id = str(j, "LocationID");
    r.decision = str(j, "ResolverDecision");
    r.policy_id = str(j, "PolicyID");
    if (j.contains("RCode") && j["RCode"].is_number_integer()) {
        r.rcode = j["RCode"].get<int>();
    }
    if (j.contains("ResolvedIPs") && j["ResolvedIPs"].is_array()) {
        for (const auto& ip : j["ResolvedIPs"]) {
            if (ip.is_string()) {
                r.resolved_ips.push_back(ip.get<std::string>());
            }
        }
    }
    if (j.contains("QueryCategoryIDs") && j["QueryCategoryIDs"].is_array()) {
        for (const auto& c : j["QueryCategoryIDs"]) {
            if (c.is_number_unsigned()) {
                r.categories.push_back(c.get<std::uint32_t>());
            }
        }
    }
    return r;
}

Synthesised synthesise(const std::vector<LogRecord>& recs, const std::string& scenario_csv,
                       const std::vector<std::string>& origins) {
    Synthesised out;
    out.categories_csv = scenario_csv.empty() ? "domain,categories\n" : scenario_csv;
    if (!out.categories_csv.empty() && out.categories_csv.back() != '\n') {
        out.categories_csv += '\n';
    }
    std::set<std::string> known; // names the scenario already categorises
    {
        std::istringstream s(scenario_csv);
        for (std::string line; std::getline(s, line);) {
            known.insert(lower(line.substr(0, line.find(','))));
        }
    }
    std::map<std::string, std::set<std::string>> a, aaaa; // name -> addresses
    std::set<std::string> done;
    for (const auto& r : recs) {
        if (!r.categories.empty() && known.insert(r.qname).second) {
            out.categories_csv += r.qname + ",";
            for (std::size_t i = 0; i < r.categories.size(); ++i) {
                out.categories_csv += (i ? " " : "") + std::to_string(r.categories[i]);
            }
            out.categories_csv += "\n";
            ++out.categorised_names;
        }
        const bool lab_has_it = std::any_of(origins.begin(), origins.end(),
                                            [&](const auto& o) { return under(r.qname, o); });
        if (lab_has_it || r.resolved_ips.empty()) {
            continue;
        }
        for (const auto& ip : r.resolved_ips) {
            // A blocked record logs the sinkhole it answered, not the real address.
            if (ip == "0.0.0.0" || ip == "::") {
                continue;
            }
            (ip.find(':') != std::string::npos ? aaaa : a)[r.qname].insert(ip);
        }
    }
    // One zone per registrable-looking suffix (the last two labels) of the answered names.
    std::map<std::string, std::string> zones; // origin -> records
    auto add = [&](const std::map<std::string, std::set<std::string>>& m, const char* type) {
        for (const auto& [name, ips] : m) {
            auto dot = name.rfind('.');
            auto dot2 =
                dot == std::string::npos || dot == 0 ? std::string::npos : name.rfind('.', dot - 1);
            const std::string origin = dot2 == std::string::npos ? name : name.substr(dot2 + 1);
            for (const auto& ip : ips) {
                zones[origin] += name + ". 300 IN " + type + " " + ip + "\n";
            }
        }
    };
    add(a, "A");
    add(aaaa, "AAAA");
    for (const auto& [origin, rrs] : zones) {
        out.zone_files["replay-" + origin + ".zone"] =
            "$ORIGIN " + origin +
            ".\n$TTL 300\n@ IN SOA ns.replay.invalid. hostmaster.replay.invalid. 1 3600 600 86400 "
            "60\n" +
            rrs;
        out.answered_names += std::count(rrs.begin(), rrs.end(), '\n');
    }
    return out;
}

std::string location_hint(const LogRecord& r,
                          const std::map<std::string, std::string>& by_location) {
    if (!r.doh_subdomain.empty()) {
        return r.doh_subdomain;
    }
    if (!r.dot_subdomain.empty()) {
        return r.dot_subdomain;
    }
    for (const auto* k : {&r.location_id, &r.location}) {
        if (auto it = by_location.find(*k); !k->empty() && it != by_location.end()) {
            return it->second;
        }
    }
    return "";
}

std::string match_key(const std::string& qname, std::uint16_t qtype, const std::string& protocol,
                      const std::string& loc) {
    return qname + "|" + std::to_string(qtype) + "|" + protocol + "|" + loc;
}

int run_replay(const Options& o) {
    auto cannot = [&](const std::string& what) {
        std::cerr << "dnslab-probe replay: " << what << "\n";
        return kExitCannotRun;
    };
    const auto t0 = std::chrono::steady_clock::now();
    auto sc = scenario::load_scenario(o.scenario);
    if (!sc) {
        return cannot(sc.error().detail);
    }
    // 1. The log.
    std::vector<LogRecord> recs;
    {
        auto in = common::LineReader::open(o.logfile); // JSON lines, gzip (Logpush) or not
        if (!in) {
            return cannot(in.error().detail);
        }
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
                return cannot(o.logfile.string() + ": " + err);
            }
            if (r) {
                if (!o.protocol.empty()) {
                    r->protocol = normalise_protocol(o.protocol);
                }
                recs.push_back(std::move(*r));
                if (o.limit != 0 && recs.size() >= o.limit) {
                    break;
                }
            }
        }
        if (!in->error().empty()) {
            return cannot(in->error());
        }
    }
    if (recs.empty()) {
        return cannot(o.logfile.string() + ": no gateway_dns query records");
    }

    // 2. Scenario facts: locations, categories, fixture zones.
    toml::table lab_cfg;
    try {
        lab_cfg = toml::parse(sc->lab_toml);
    } catch (const toml::parse_error& e) {
        return cannot(std::string("scenario [lab]: ") + std::string(e.description()));
    }
    auto path_of = [&](const std::string& rel) {
        return fs::path(rel).is_absolute() ? fs::path(rel) : sc->dir / rel;
    };
    std::map<std::string, std::string> subdomain_by_location, id_by_subdomain;
    if (auto loc = lab_cfg["policy"]["locations"].value<std::string>()) {
        auto j = json::parse(read_file(path_of(*loc)).value_or(""), nullptr, false);
        const json& arr = j.is_object() && j.contains("result") ? j["result"] : j;
        if (arr.is_array()) {
            for (const auto& l : arr) {
                const auto sub = str(l, "doh_subdomain");
                subdomain_by_location[str(l, "id")] = sub;
                subdomain_by_location[str(l, "name")] = sub;
                id_by_subdomain[sub] = str(l, "id");
            }
        }
    }
    std::string scenario_csv;
    if (auto c = lab_cfg["policy"]["categories"].value<std::string>()) {
        scenario_csv = read_file(path_of(*c)).value_or("");
    }
    std::vector<std::string> origins;
    std::string fixture_dir, fixture_params;
    if (const auto* ups = lab_cfg["upstream"].as_array(); ups != nullptr && ups->size() == 1) {
        const std::string u = ups->front().value_or(std::string{});
        if (u.rfind("fixture:", 0) == 0) {
            auto q = u.find('?');
            fixture_dir = u.substr(8, q == std::string::npos ? std::string::npos : q - 8);
            fixture_params = q == std::string::npos ? "" : u.substr(q);
            origins = zone_origins(path_of(fixture_dir));
        }
    }
    const auto syn = synthesise(recs, scenario_csv, origins);

    char tmpl[] = "/tmp/dnslab-replay-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) {
        return cannot("cannot create a temporary directory");
    }
    const fs::path gen = tmpl;
    struct Cleanup {
        fs::path p;
        bool keep;
        ~Cleanup() {
            std::error_code ec;
            if (!keep) {
                fs::remove_all(p, ec);
            }
        }
    } cleanup{gen, o.start.keep};
    auto start = o.start;
    start.extra_lab_args.clear();
    {
        std::ofstream(gen / "categories.csv") << syn.categories_csv;
        start.extra_lab_args = {"--categories", (gen / "categories.csv").string()};
    }
    if (!fixture_dir.empty()) {
        std::error_code ec;
        fs::create_directories(gen / "zones", ec);
        for (const auto& e : fs::directory_iterator(path_of(fixture_dir), ec)) {
            if (e.path().extension() == ".zone") {
                fs::copy_file(e.path(), gen / "zones" / e.path().filename(), ec);
            }
        }
        for (const auto& [name, text] : syn.zone_files) {
            std::ofstream(gen / "zones" / name) << text;
        }
        start.extra_lab_args.insert(
            start.extra_lab_args.end(),
            {"--upstream", "fixture:" + (gen / "zones").string() + fixture_params});
    }

    // 3. Start the lab and re-ask every record.
    auto lab = scenario::start_lab(*sc, start);
    if (!lab) {
        return cannot(sc->name + ": " + lab.error().detail);
    }
    auto& l = **lab;
    auto url_for = [&](const std::string& proto, const std::string& hint) -> resolver::util::Url {
        resolver::util::Url u;
        u.host = "127.0.0.1";
        u.scheme = proto;
        u.port = static_cast<std::uint16_t>(l.ports.count(proto) ? l.ports.at(proto) : 0);
        if (proto == "udp") {
            u.params["tc"] = "keep";
        } else if (proto == "tls") {
            u.params["ca"] = l.ca;
        } else if (proto == "https") {
            u.path = hint.empty() ? "/dns-query" : "/dns-query/" + hint;
            u.params["ca"] = l.ca;
            u.params["method"] = "post";
        }
        return u;
    };
    std::vector<matrix::Job> jobs;
    std::vector<std::string> expected_loc(recs.size());
    jobs.reserve(recs.size());
    for (std::size_t i = 0; i < recs.size(); ++i) {
        const auto& r = recs[i];
        const std::string hint = location_hint(r, subdomain_by_location);
        expected_loc[i] = id_by_subdomain.count(hint) ? id_by_subdomain.at(hint) : "";
        common::QueryOptions q;
        if (r.protocol != "https") {
            q.location = hint; // EDNS 65011: loopback cannot carry the customer's source address
        }
        auto wq =
            common::build_query({r.qname, r.qtype}, q, static_cast<std::uint16_t>(i & 0xFFFF));
        jobs.push_back(
            {url_for(r.protocol, hint), wq ? std::move(wq).value() : std::vector<std::uint8_t>{}});
    }
    resolver::upstream::UpstreamOptions uopts;
    uopts.timeout_ms = o.timeout_ms;
    uopts.connect_timeout_ms = o.timeout_ms;
    uopts.tries = 2; // a UDP datagram lost on a busy loopback must not count as a disagreement
    uv_loop_t loop;
    uv_loop_init(&loop);
    std::vector<matrix::Outcome> outcomes;
    outcomes.reserve(jobs.size());
    const auto t_start = std::chrono::steady_clock::now();
    {
        matrix::Engine engine(&loop, uopts);
        for (std::size_t off = 0; off < jobs.size(); off += kBatch) {
            std::vector<matrix::Job> batch(
                jobs.begin() + static_cast<std::ptrdiff_t>(off),
                jobs.begin() + static_cast<std::ptrdiff_t>(std::min(jobs.size(), off + kBatch)));
            auto res = engine.run(batch, o.concurrency);
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
        engine.close();
    }
    uv_run(&loop, UV_RUN_NOWAIT);
    (void)uv_loop_close(&loop);
    const double ask_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();

    // 4. The lab's log: one line per query reached; wait (bounded) for the writer.
    std::size_t reached = 0;
    for (const auto& oc : outcomes) {
        reached += oc.exchange ? 1 : 0;
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    auto logged = [&] {
        // Counting newlines is enough here (one line per query plus a few LabEvent lines);
        // parsing the JSON happens once, after the lab has stopped.
        std::ifstream in(l.log, std::ios::binary);
        return static_cast<std::size_t>(
            std::count(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>(), '\n'));
    };
    while (logged() < reached + 1 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    l.stop();
    const std::vector<json> lab_recs = l.records();
    struct LabView {
        std::string decision, policy;
        bool ambiguous = false;
    };
    std::unordered_map<std::string, LabView> by_key;
    for (const auto& r : lab_recs) {
        std::uint16_t t = r.contains("QueryType") && r["QueryType"].is_number_unsigned()
                              ? r["QueryType"].get<std::uint16_t>()
                              : 0;
        const auto key =
            match_key(lower(str(r, "QueryName")), t, str(r, "Protocol"), str(r, "LocationID"));
        LabView v{str(r, "ResolverDecision"), str(r, "PolicyID"), false};
        auto [it, fresh] = by_key.try_emplace(key, v);
        if (!fresh && (it->second.decision != v.decision || it->second.policy != v.policy)) {
            it->second.ambiguous = true;
        }
    }

    // 5. Compare.
    std::vector<Verdict> verdicts(recs.size());
    std::map<std::string, std::size_t> decision_pairs; // "log -> lab"
    std::size_t agree = 0, bad_decision = 0, bad_policy = 0, bad_answer = 0, bad_rcode = 0,
                errors = 0;
    for (std::size_t i = 0; i < recs.size(); ++i) {
        const auto& r = recs[i];
        auto& v = verdicts[i];
        const auto& oc = outcomes[i];
        if (!oc.exchange) {
            v.error = oc.error.empty() ? "no answer" : oc.error;
        } else if (auto m = wire::parse(oc.exchange->wire); !m) {
            v.error = oc.exchange->http_status != 0 && oc.exchange->http_status != 200
                          ? "HTTP " + std::to_string(oc.exchange->http_status)
                          : "unparsable answer: " + m.failure.reason;
        } else {
            v.lab_rcode = m.message->rcode();
            for (const auto& rr : m.message->answer) {
                if (auto ip = wire::address_text(rr); !ip.empty()) {
                    v.lab_ips.push_back(ip);
                }
            }
        }
        auto it = by_key.find(match_key(r.qname, r.qtype, r.protocol, expected_loc[i]));
        if (it == by_key.end()) {
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
            auto a = r.resolved_ips;
            auto b = v.lab_ips;
            std::sort(a.begin(), a.end());
            std::sort(b.begin(), b.end());
            a.erase(std::unique(a.begin(), a.end()), a.end());
            b.erase(std::unique(b.begin(), b.end()), b.end());
            v.answer_ok = a == b;
            v.rcode_ok = !r.rcode || !v.lab_rcode || *r.rcode == *v.lab_rcode;
        }
        decision_pairs[(r.decision.empty() ? "-" : r.decision) + " -> " +
                       (v.lab_decision.empty() ? "-" : v.lab_decision)]++;
        agree += v.agree() ? 1 : 0;
        errors += v.error.empty() ? 0 : 1;
        bad_decision += v.error.empty() && !v.decision_ok ? 1 : 0;
        bad_policy += v.error.empty() && !v.policy_ok ? 1 : 0;
        bad_answer += v.error.empty() && !v.answer_ok ? 1 : 0;
        bad_rcode += v.error.empty() && !v.rcode_ok ? 1 : 0;
    }
    const double total_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const int rc = agree == recs.size() ? kExitAgree : kExitDisagree;

    auto record_json = [&](std::size_t i) {
        const auto& r = recs[i];
        const auto& v = verdicts[i];
        json fields = json::array();
        if (!v.decision_ok)
            fields.push_back("ResolverDecision");
        if (!v.policy_ok)
            fields.push_back("PolicyID");
        if (!v.answer_ok)
            fields.push_back("answer");
        if (!v.rcode_ok)
            fields.push_back("RCode");
        return json{{"line", r.line},
                    {"query", r.qname + " " + wire::type_name(r.qtype)},
                    {"protocol", r.protocol},
                    {"location", r.location},
                    {"agree", v.agree()},
                    {"differs", fields},
                    {"error", v.error.empty() ? json(nullptr) : json(v.error)},
                    {"log",
                     {{"ResolverDecision", r.decision},
                      {"PolicyID", r.policy_id},
                      {"ResolvedIPs", r.resolved_ips},
                      {"RCode", r.rcode ? json(*r.rcode) : json(nullptr)}}},
                    {"lab",
                     {{"ResolverDecision", v.lab_decision},
                      {"PolicyID", v.lab_policy_id},
                      {"ResolvedIPs", v.lab_ips},
                      {"RCode", v.lab_rcode ? json(*v.lab_rcode) : json(nullptr)}}}};
    };
    if (o.json) {
        json out{
            {"schema", "dnslab.replay.v1"},
            {"scenario", sc->name},
            {"log", o.logfile.string()},
            {"synthesised",
             {{"categorised_names", syn.categorised_names},
              {"answered_names", syn.answered_names}}},
            {"summary",
             {{"records", recs.size()},
              {"agree", agree},
              {"disagree", recs.size() - agree},
              {"decision_differs", bad_decision},
              {"policy_differs", bad_policy},
              {"answer_differs", bad_answer},
              {"rcode_differs", bad_rcode},
              {"errors", errors},
              {"ask_seconds", ask_s},
              {"total_seconds", total_s},
              {"queries_per_second", ask_s > 0 ? static_cast<double>(recs.size()) / ask_s : 0.0}}},
            {"decisions", decision_pairs},
            {"records", json::array()},
            {"exit_code", rc}};
        for (std::size_t i = 0; i < recs.size(); ++i) {
            out["records"].push_back(record_json(i));
        }
        std::cout << out.dump(2) << "\n";
        return rc;
    }
    std::cout << "replay of " << o.logfile.string() << " through scenario " << sc->name << "\n";
    std::cout << "synthesised from the log: " << syn.categorised_names << " category rows, "
              << syn.answered_names << " answer records\n\n";
    std::cout << "  records            " << recs.size() << "\n"
              << "  agree              " << agree << "\n"
              << "  ResolverDecision   " << bad_decision << " differ\n"
              << "  PolicyID           " << bad_policy << " differ\n"
              << "  answer (IPs)       " << bad_answer << " differ\n"
              << "  RCode              " << bad_rcode << " differ\n"
              << "  errors             " << errors << "\n";
    std::cout << "\ndecisions (log -> lab):\n";
    for (const auto& [pair, n] : decision_pairs) {
        std::cout << "  " << n << "\t" << pair << "\n";
    }
    std::size_t shown = 0;
    for (std::size_t i = 0; i < recs.size(); ++i) {
        if (verdicts[i].agree()) {
            continue;
        }
        if (shown == 0) {
            std::cout << "\ndisagreeing records:\n";
        }
        if (++shown > 50) {
            std::cout << "  ... " << (recs.size() - agree - 50) << " more (--json lists all)\n";
            break;
        }
        const auto& r = recs[i];
        const auto& v = verdicts[i];
        std::cout << "  line " << r.line << ": " << r.qname << " " << wire::type_name(r.qtype)
                  << " over " << r.protocol;
        if (!r.location.empty()) {
            std::cout << " at " << r.location;
        }
        std::cout << "\n";
        if (!v.error.empty()) {
            std::cout << "      error: " << v.error << "\n";
            continue;
        }
        std::cout << "      log: " << r.decision
                  << " policy=" << (r.policy_id.empty() ? "-" : r.policy_id) << " ips=["
                  << join(r.resolved_ips) << "]\n";
        std::cout << "      lab: " << v.lab_decision
                  << " policy=" << (v.lab_policy_id.empty() ? "-" : v.lab_policy_id) << " ips=["
                  << join(v.lab_ips) << "]\n";
    }
    std::cout << "\n"
              << recs.size() << " records replayed in " << static_cast<int>(ask_s * 1000) << " ms ("
              << static_cast<long>(ask_s > 0 ? static_cast<double>(recs.size()) / ask_s : 0)
              << " queries/s), " << agree << " agree, " << (recs.size() - agree) << " disagree\n";
    return rc;
}

} // namespace probes::replay
