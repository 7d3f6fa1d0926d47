// SPDX-License-Identifier: MIT
// `scenario run`: start the scenario's resolvers, run its expectations over every
// transport, print the result and the lab's own decisions, stop everything.
#include <algorithm>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <thread>

#include <toml++/toml.h>

#include "probes/check/attribution.hpp"
#include "probes/check/expectations.hpp"
#include "probes/check/report.hpp"
#include "probes/check/run.hpp"
#include "probes/common/targets.hpp"
#include "probes/report/formats.hpp"
#include "probes/scenario/scenario.hpp"
#include "probes/session/session.hpp"
#include "resolver/net/transport.hpp"
#include "resolver/util/file.hpp"

namespace probes::scenario {
namespace fs = std::filesystem;
namespace net = resolver::net;
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

std::string decision_line(const json& e) {
    std::ostringstream s;
    s << str_field(e, "Protocol") << " " << str_field(e, "QueryName") << " "
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
    return s.str();
}

// The scenario's expectations, parsed.
resolver::Result<std::vector<check::Case>> load_cases(const Scenario& sc) {
    const fs::path expect_file = sc.dir / sc.expect;
    auto text = resolver::util::read_file(expect_file);
    if (!text) {
        return resolver::fail(resolver::Errc::ConfigInvalid,
                              expect_file.string() + ": cannot read");
    }
    auto cases = check::parse_cases(*text);
    if (!cases) {
        return resolver::fail(resolver::Errc::ConfigInvalid,
                              expect_file.string() + ": " + cases.error().detail);
    }
    return cases;
}

// The locations export the lab loads (`[lab.policy] locations`), so the location the lab
// logs by name can be compared with a case's subdomain. Empty when the scenario has none.
check::LocationDirectory scenario_locations(const Scenario& sc) {
    try {
        const auto cfg = toml::parse(sc.lab_toml);
        if (auto rel = cfg["policy"]["locations"].value<std::string>()) {
            const fs::path p = fs::path(*rel).is_absolute() ? fs::path(*rel) : sc.dir / *rel;
            if (auto text = resolver::util::read_file(p)) {
                if (auto dir = check::parse_locations(*text)) {
                    return std::move(dir).value();
                }
            }
        }
    } catch (const toml::parse_error&) {
        // start_lab has already refused a config that does not parse
    }
    return {};
}

// One lab:// target expands into every transport; keep the selected ones.
resolver::Result<std::vector<common::Target>> lab_targets(const Lab& l, const Scenario& sc,
                                                          const RunOptions& o) {
    std::ostringstream spec;
    spec << "lab=lab://127.0.0.1?path=/dns-query";
    for (const auto& row : net::kTransports) {
        if (auto it = l.ports.find(std::string(row.name)); it != l.ports.end()) {
            spec << "&" << row.name << "=" << it->second;
        }
    }
    auto expanded = common::parse_target(spec.str());
    if (!expanded) {
        return expanded.error();
    }
    const auto& wanted = o.transports.empty() ? sc.transports : o.transports;
    const std::string https(net::transport_name(net::Transport::Https));
    std::vector<common::Target> targets;
    for (auto& t : *expanded) {
        if (std::find(wanted.begin(), wanted.end(), t.transport) != wanted.end() ||
            (t.url.scheme == https &&
             std::find(wanted.begin(), wanted.end(), https) != wanted.end())) {
            targets.push_back(std::move(t));
        }
    }
    if (targets.empty()) {
        return resolver::fail(resolver::Errc::ConfigInvalid,
                              "no lab listener for the transports asked");
    }
    common::finalize_targets(targets, l.ca, {});
    return targets;
}

// Every exchange that reached the lab is logged; the writer flushes on its own schedule,
// so wait (bounded) for those lines before stopping the lab.
void wait_for_log(const Lab& l, const check::CheckReport& report) {
    const auto reached = static_cast<std::size_t>(
        std::count_if(report.results.begin(), report.results.end(),
                      [](const check::CaseResult& r) { return r.asked && !r.observation.error; }));
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (check::count_matches(report, l.records()) < reached &&
           std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

// What the lab's policy loader said about the scenario's export: the warnings of the last
// policy it loaded, as its policy-loaded (or successful policy-reload) event carries them,
// i.e. the loader's own result rather than its stderr. nullopt when no such event was
// written (the lab died before it loaded anything).
// The files are named as the lab read them, in the run's temporary copy of the folder
// (`prefixes`): shown relative to the scenario folder instead, as the user wrote them.
std::optional<json> policy_warnings(const std::vector<json>& events,
                                    const std::vector<std::string>& prefixes) {
    const json* last = nullptr;
    for (const auto& e : events) {
        const std::string kind = str_field(e, "LabEvent");
        if (kind == "policy-loaded" || (kind == "policy-reload" && e.value("LabOk", false))) {
            last = &e;
        }
    }
    if (last == nullptr) {
        return std::nullopt;
    }
    json items = json::array();
    if (auto it = last->find("LabWarningDetails"); it != last->end() && it->is_array()) {
        items = *it;
    } else if (auto lines = last->find("LabWarnings"); lines != last->end() && lines->is_array()) {
        // A resolver from before LabWarningDetails: the lines alone.
        for (const auto& l : *lines) {
            items.push_back(json{{"warning", l}, {"message", l}, {"skipped", false}});
        }
    }
    auto relative = [&](std::string s) {
        for (const auto& p : prefixes) {
            for (auto at = s.find(p); at != std::string::npos; at = s.find(p, at)) {
                s.erase(at, p.size());
            }
        }
        return s;
    };
    for (auto& w : items) {
        for (const char* key : {"warning", "message", "file"}) {
            if (auto it = w.find(key); it != w.end() && it->is_string()) {
                *it = relative(it->get<std::string>());
            }
        }
    }
    std::size_t skipped = 0;
    std::size_t other_filter = 0;
    for (const auto& w : items) {
        skipped += w.value("skipped", false) ? 1 : 0;
        other_filter += w.value("other_filter", false) ? 1 : 0;
    }
    const std::size_t warnings = items.size() - skipped;
    auto plural = [](std::size_t n, const char* one, const char* many) {
        return std::to_string(n) + " " + (n == 1 ? one : many);
    };
    std::string summary;
    if (skipped != 0) {
        summary = plural(skipped, "rule skipped", "rules skipped");
        if (other_filter != 0) {
            summary += " (" + std::to_string(other_filter) + " for another Gateway filter)";
        }
    }
    if (warnings != 0 || skipped == 0) {
        summary += (summary.empty() ? "" : ", ") + plural(warnings, "warning", "warnings");
    }
    return json{{"summary", summary},
                {"rules_skipped", skipped},
                {"warnings_count", warnings},
                {"warnings", std::move(items)}};
}

report::Document scenario_document(const Scenario& sc, const check::CheckReport& report,
                                   const json& decisions, const std::optional<json>& policy,
                                   int rc) {
    auto doc = check::to_document(report);
    doc.title = "dnslab-probe scenario " + sc.name;
    doc.suite = "dnslab-probe.scenario." + sc.name;
    doc.exit_code = rc;
    doc.machine = json{{"schema", "dnslab.scenario.v1"}, {"scenario", sc.name},
                       {"description", sc.description},  {"check", check::check_json(report)},
                       {"lab_log", decisions},           {"exit_code", rc}};
    report::Section head;
    head.blocks.emplace_back(report::line("scenario " + sc.name + ": " + sc.description));
    if (policy) {
        // Rules the lab did not enforce change what the scenario shows: said at the top.
        doc.machine["policy"] = *policy;
        const bool any = !(*policy)["warnings"].empty();
        head.blocks.emplace_back(
            report::line({any ? report::badge_span(report::Badge::Warn, "WARN")
                              : report::badge_span(report::Badge::Info, "INFO"),
                          report::plain(" policy: " + (*policy)["summary"].get<std::string>())}));
        for (const auto& w : (*policy)["warnings"]) {
            head.blocks.emplace_back(report::line(w.value("warning", ""), 2));
        }
    }
    doc.sections.insert(doc.sections.begin(), std::move(head));
    auto& log = doc.add_section();
    log.blocks.emplace_back(report::line("lab decisions (gateway_dns log):"));
    for (const auto& e : decisions) {
        log.blocks.emplace_back(report::line(decision_line(e), 2));
    }
    doc.add_section().blocks.emplace_back(
        report::line({rc == kExitPass ? report::badge_span(report::Badge::Pass, "PASS")
                                      : report::badge_span(report::Badge::Fail, "FAIL"),
                      report::plain(" " + sc.name)}));
    return doc;
}

} // namespace

int run_scenario(const fs::path& dir, const RunOptions& o) {
    auto sc = load_scenario(dir);
    if (!sc) {
        return cannot_run(sc.error().detail, o.json);
    }
    auto cases = load_cases(*sc);
    if (!cases) {
        return cannot_run(cases.error().detail, o.json);
    }
    auto outputs = report::requested_outputs(o.json ? "json" : "text", o.junit, o.html, o.reports);
    if (!outputs) {
        return cannot_run(outputs.error().detail, o.json);
    }
    auto lab = start_lab(*sc, o.start);
    if (!lab) {
        return cannot_run(sc->name + ": " + lab.error().detail, o.json);
    }
    auto& l = **lab;
    auto targets = lab_targets(l, *sc, o);
    if (!targets) {
        return cannot_run(targets.error().detail, o.json);
    }
    resolver::upstream::UpstreamOptions uopts;
    uopts.timeout_ms = sc->timeout_ms;
    uopts.connect_timeout_ms = sc->timeout_ms;
    uopts.tries = 1;
    auto session = session::ProbeSession::open(uopts);
    if (!session) {
        return cannot_run(session.error().detail, o.json);
    }
    auto report = check::run_check(**session, *targets, *cases, common::QueryOptions{}, nullptr);
    (*session)->close();
    wait_for_log(l, report);
    l.stop();
    const auto records = l.records();
    const auto policy = policy_warnings(l.records(/*events=*/true),
                                        {l.cwd.string() + "/", l.work.string() + "/scenario/"});
    check::apply_lab_log(report, records, scenario_locations(*sc));
    const int rc = report.all_pass() ? kExitPass : kExitFailed;
    const auto doc = scenario_document(*sc, report, log_summary(records), policy, rc);
    if (auto st = report::write_outputs(doc, *outputs, {o.color, false}); !st) {
        return cannot_run(st.error().detail, o.json);
    }
    return rc;
}

} // namespace probes::scenario
