// SPDX-License-Identifier: MIT
// `scenario run`: start the scenario's resolvers, run its expectations over every
// transport, print the result and the lab's own decisions, stop everything.
#include "probes/check/run.hpp"

#include <algorithm>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include <uv.h>

#include "probes/check/expectations.hpp"
#include "probes/common/targets.hpp"
#include "probes/matrix/engine.hpp"
#include "probes/scenario/scenario.hpp"

namespace probes::scenario {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr int kExitPass = 0;
constexpr int kExitFailed = 1;
constexpr int kExitCannotRun = 2;

int cannot_run(const std::string& what, bool as_json) {
    if (as_json) {
        std::cout << json{{"schema", "dnslab.scenario.v1"},
                          {"error", what},
                          {"exit_code", kExitCannotRun}}
                         .dump(2)
                  << "\n";
    }
    std::cerr << "dnslab-probe scenario: " << what << "\n";
    return kExitCannotRun;
}

std::string str_field(const json& r, const char* key) {
    auto it = r.find(key);
    if (it == r.end() || it->is_null()) {
        return "";
    }
    return it->is_string() ? it->get<std::string>() : it->dump();
}

// The lab's view of each query it answered: what a support engineer compares with the
// customer's Gateway log.
json log_summary(const std::vector<json>& recs) {
    json out = json::array();
    for (const auto& r : recs) {
        json e;
        for (const char* k :
             {"Protocol", "QueryName", "QueryTypeName", "RCode", "ResolverDecision", "PolicyID",
              "PolicyName", "ResolverPolicyID", "Location", "DoHSubdomain", "DoTSubdomain",
              "EDEErrors", "ResolvedIPs", "LabUpstream", "LabUpstreamError"}) {
            if (r.contains(k)) {
                e[k] = r[k];
            }
        }
        out.push_back(std::move(e));
    }
    return out;
}

std::string render_log(const json& summary) {
    std::ostringstream s;
    s << "lab decisions (gateway_dns log):\n";
    for (const auto& e : summary) {
        s << "  " << str_field(e, "Protocol") << " " << str_field(e, "QueryName") << " "
          << str_field(e, "QueryTypeName") << " rcode=" << str_field(e, "RCode") << " decision="
          << (str_field(e, "ResolverDecision").empty() ? "-" : str_field(e, "ResolverDecision"));
        if (!str_field(e, "PolicyName").empty()) {
            s << " policy=\"" << str_field(e, "PolicyName") << "\"";
        }
        if (!str_field(e, "Location").empty()) {
            s << " location=\"" << str_field(e, "Location") << "\"";
        }
        if (e.contains("EDEErrors") && !e["EDEErrors"].empty()) {
            s << " ede=" << e["EDEErrors"].dump();
        }
        if (!str_field(e, "LabUpstreamError").empty()) {
            s << " upstream_error=\"" << str_field(e, "LabUpstreamError") << "\"";
        }
        s << "\n";
    }
    return s.str();
}

} // namespace

int run_scenario(const fs::path& dir, const RunOptions& o) {
    auto sc = load_scenario(dir);
    if (!sc) {
        return cannot_run(sc.error().detail, o.json);
    }
    const fs::path expect_file = sc->dir / sc->expect;
    std::ifstream in(expect_file);
    if (!in) {
        return cannot_run(expect_file.string() + ": cannot read", o.json);
    }
    std::ostringstream text;
    text << in.rdbuf();
    auto cases = check::parse_cases(text.str());
    if (!cases) {
        return cannot_run(expect_file.string() + ": " + cases.error().detail, o.json);
    }
    auto lab = start_lab(*sc, o.start);
    if (!lab) {
        return cannot_run(sc->name + ": " + lab.error().detail, o.json);
    }
    auto& l = **lab;

    // One lab:// target expands into every transport; keep the selected ones.
    std::ostringstream spec;
    spec << "lab=lab://127.0.0.1?path=/dns-query";
    for (const char* scheme : {"udp", "tcp", "tls", "https"}) {
        if (auto it = l.ports.find(scheme); it != l.ports.end()) {
            spec << "&" << scheme << "=" << it->second;
        }
    }
    auto expanded = common::parse_target(spec.str());
    if (!expanded) {
        return cannot_run(expanded.error().detail, o.json);
    }
    const auto& wanted = o.transports.empty() ? sc->transports : o.transports;
    std::vector<common::Target> targets;
    for (auto& t : *expanded) {
        if (std::find(wanted.begin(), wanted.end(), t.transport) != wanted.end() ||
            (t.transport.rfind("https", 0) == 0 &&
             std::find(wanted.begin(), wanted.end(), "https") != wanted.end())) {
            targets.push_back(std::move(t));
        }
    }
    if (targets.empty()) {
        return cannot_run("no lab listener for the transports asked", o.json);
    }
    common::finalize_targets(targets, l.ca, {});

    resolver::upstream::UpstreamOptions uopts;
    uopts.timeout_ms = sc->timeout_ms;
    uopts.connect_timeout_ms = sc->timeout_ms;
    uopts.tries = 1;
    uv_loop_t loop;
    uv_loop_init(&loop);
    check::CheckReport report;
    {
        matrix::Engine engine(&loop, uopts);
        common::QueryOptions q;
        report = check::run_check(engine, targets, *cases, q, nullptr);
        engine.close();
    }
    uv_run(&loop, UV_RUN_NOWAIT);
    (void)uv_loop_close(&loop);

    // Every exchange that reached the lab is logged; the writer flushes on its own schedule,
    // so wait (bounded) for those lines before stopping the lab.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (l.records().size() < report.results.size() &&
           std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    l.stop();
    const json decisions = log_summary(l.records());
    const int rc = report.all_pass() ? kExitPass : kExitFailed;
    if (o.json) {
        json j{{"schema", "dnslab.scenario.v1"}, {"scenario", sc->name},
               {"description", sc->description}, {"check", check::check_json(report)},
               {"lab_log", decisions},           {"exit_code", rc}};
        std::cout << j.dump(2) << "\n";
    } else {
        std::cout << "scenario " << sc->name << ": " << sc->description << "\n";
        std::cout << check::render_check_table(report, o.color);
        std::cout << render_log(decisions);
        std::cout << (rc == kExitPass ? "PASS" : "FAIL") << " " << sc->name << "\n";
    }
    return rc;
}

} // namespace probes::scenario
