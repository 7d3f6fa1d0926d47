// SPDX-License-Identifier: MIT
// The replay's report: the dnslab.replay.v1 document and the Document every format renders.
#include <algorithm>

#include "probes/replay/replay.hpp"
#include "resolver/wire/message.hpp"

namespace probes::replay {
namespace wire = resolver::wire;
using nlohmann::json;

namespace {

constexpr std::size_t kShown = 50; // disagreeing records listed in the text report

std::string join(const std::vector<std::string>& v) {
    std::string out;
    for (const auto& s : v) {
        out += (out.empty() ? "" : ",") + s;
    }
    return out;
}

std::vector<std::string> differing_fields(const Verdict& v) {
    std::vector<std::string> fields;
    if (!v.decision_ok) {
        fields.emplace_back("ResolverDecision");
    }
    if (!v.policy_ok) {
        fields.emplace_back("PolicyID");
    }
    if (!v.answer_ok) {
        fields.emplace_back("answer");
    }
    if (!v.rcode_ok) {
        fields.emplace_back("RCode");
    }
    return fields;
}

json record_json(const LogRecord& r, const Verdict& v) {
    return json{{"line", r.line},
                {"query", r.qname + " " + wire::type_name(r.qtype)},
                {"protocol", r.protocol},
                {"location", r.location},
                {"agree", v.agree()},
                {"differs", differing_fields(v)},
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
}

double rate(const ReplayReport& r) {
    return r.ask_seconds > 0 ? static_cast<double>(r.records.size()) / r.ask_seconds : 0.0;
}

std::string record_title(const LogRecord& r) {
    std::string t = "line " + std::to_string(r.line) + ": " + r.qname + " " +
                    wire::type_name(r.qtype) + " over " + r.protocol;
    if (!r.location.empty()) {
        t += " at " + r.location;
    }
    return t;
}

void add_disagreeing(report::Section& s, const ReplayReport& r) {
    const std::size_t disagree = r.records.size() - r.agree;
    std::size_t shown = 0;
    for (std::size_t i = 0; i < r.records.size(); ++i) {
        const auto& v = r.verdicts[i];
        if (v.agree()) {
            continue;
        }
        if (shown == 0) {
            s.blocks.emplace_back(report::Break{});
            s.blocks.emplace_back(report::line("disagreeing records:"));
        }
        if (++shown > kShown) {
            s.blocks.emplace_back(report::line(
                "... " + std::to_string(disagree - kShown) + " more (--json lists all)", 2));
            break;
        }
        const auto& rec = r.records[i];
        s.blocks.emplace_back(report::line(record_title(rec), 2));
        if (!v.error.empty()) {
            s.blocks.emplace_back(report::line("error: " + v.error, 6));
            continue;
        }
        s.blocks.emplace_back(report::line(
            "log: " + rec.decision + " policy=" + (rec.policy_id.empty() ? "-" : rec.policy_id) +
                " ips=[" + join(rec.resolved_ips) + "]",
            6));
        s.blocks.emplace_back(report::line("lab: " + v.lab_decision + " policy=" +
                                               (v.lab_policy_id.empty() ? "-" : v.lab_policy_id) +
                                               " ips=[" + join(v.lab_ips) + "]",
                                           6));
    }
}

// Gateway's ResolverDecision names a block "blockedBy..." (docs/query-log.md).
bool blocked_decision(const std::string& d) {
    return d.rfind("blocked", 0) == 0;
}

std::vector<report::Badge> record_badges(const LogRecord& r, const Verdict& v) {
    std::vector<report::Badge> out{v.agree()          ? report::Badge::Pass
                                   : !v.error.empty() ? report::Badge::Fail
                                                      : report::Badge::Differ};
    if (blocked_decision(r.decision) || blocked_decision(v.lab_decision)) {
        out.push_back(report::Badge::Blocked);
    }
    return out;
}

std::string record_summary(const LogRecord& r, const Verdict& v) {
    if (!v.error.empty()) {
        return v.error;
    }
    std::string out = "log " + (r.decision.empty() ? "-" : r.decision) + ", lab " +
                      (v.lab_decision.empty() ? "-" : v.lab_decision);
    if (!v.agree()) {
        out += "; differs in " + join(differing_fields(v));
    }
    return out;
}

// The lab's answer time per protocol over every record (the log has no timing of its own).
report::LatencyChart latency_chart(const ReplayReport& r) {
    report::LatencySamples samples;
    for (std::size_t i = 0; i < r.records.size() && i < r.verdicts.size(); ++i) {
        const auto& v = r.verdicts[i];
        samples.add_target("lab", r.records[i].protocol);
        if (v.timed) {
            samples.add("lab", r.records[i].protocol, v.connect_ms, v.query_ms, v.reused);
        }
    }
    return samples.chart("the lab's latency per protocol over the replayed records");
}

} // namespace

json replay_json(const ReplayReport& r) {
    json out{{"schema", "dnslab.replay.v1"},
             {"scenario", r.scenario},
             {"log", r.logfile},
             {"synthesised",
              {{"categorised_names", r.synthesised.categorised_names},
               {"answered_names", r.synthesised.answered_names}}},
             {"summary",
              {{"records", r.records.size()},
               {"agree", r.agree},
               {"disagree", r.records.size() - r.agree},
               {"decision_differs", r.decision_differs},
               {"policy_differs", r.policy_differs},
               {"answer_differs", r.answer_differs},
               {"rcode_differs", r.rcode_differs},
               {"errors", r.errors},
               {"mode", r.mode},
               {"why_child_resolver", r.why_child_resolver},
               {"ask_seconds", r.ask_seconds},
               {"total_seconds", r.total_seconds},
               {"queries_per_second", rate(r)}}},
             {"decisions", r.decisions},
             {"records", json::array()},
             {"exit_code", r.exit_code()}};
    for (std::size_t i = 0; i < r.records.size() && i < r.verdicts.size(); ++i) {
        out["records"].push_back(record_json(r.records[i], r.verdicts[i]));
    }
    return out;
}

report::Document to_document(const ReplayReport& r) {
    report::Document doc;
    doc.title = "dnslab-probe replay";
    doc.suite = "dnslab-probe.replay";
    doc.machine = replay_json(r);
    doc.exit_code = r.exit_code();
    auto& s = doc.add_section();
    s.blocks.emplace_back(
        report::line("replay of " + r.logfile + " through scenario " + r.scenario));
    s.blocks.emplace_back(report::line(
        "synthesised from the log: " + std::to_string(r.synthesised.categorised_names) +
        " category rows, " + std::to_string(r.synthesised.answered_names) + " answer records"));
    s.blocks.emplace_back(report::Break{});
    auto row = [&](std::string what, const std::string& value) {
        what.resize(std::max<std::size_t>(what.size(), 19), ' ');
        s.blocks.emplace_back(report::line(what + value, 2));
    };
    row("records", std::to_string(r.records.size()));
    row("agree", std::to_string(r.agree));
    row("ResolverDecision", std::to_string(r.decision_differs) + " differ");
    row("PolicyID", std::to_string(r.policy_differs) + " differ");
    row("answer (IPs)", std::to_string(r.answer_differs) + " differ");
    row("RCode", std::to_string(r.rcode_differs) + " differ");
    row("errors", std::to_string(r.errors));
    s.blocks.emplace_back(report::Break{});
    s.blocks.emplace_back(report::line("decisions (log -> lab):"));
    for (const auto& [pair, n] : r.decisions) {
        s.blocks.emplace_back(report::line(std::to_string(n) + "\t" + pair, 2));
    }
    add_disagreeing(s, r);
    s.blocks.emplace_back(report::Break{});
    s.blocks.emplace_back(report::line(
        r.mode == "in-process"
            ? "asked in process (the resolver's stage runner, no child resolver)"
            : "asked a child dnslab-resolver" +
                  (r.why_child_resolver.empty() ? "" : " (" + r.why_child_resolver + ")")));
    // In process there is no wire to time: the stage runner answers without sockets.
    if (auto chart = latency_chart(r); r.mode != "in-process" && !chart.rows.empty()) {
        s.blocks.emplace_back(std::move(chart));
    }
    doc.headline = {report::plain(std::to_string(r.records.size()) + " records replayed in " +
                                  std::to_string(static_cast<int>(r.ask_seconds * 1000)) + " ms (" +
                                  std::to_string(static_cast<long>(rate(r))) + " queries/s), " +
                                  std::to_string(r.agree) + " agree, " +
                                  std::to_string(r.records.size() - r.agree) + " disagree")};
    s.blocks.emplace_back(report::line(doc.headline));
    for (std::size_t i = 0; i < r.records.size() && i < r.verdicts.size(); ++i) {
        const auto& v = r.verdicts[i];
        report::TestCase tc{
            "dnslab-probe.replay", record_title(r.records[i]), std::nullopt, {}, {}};
        if (!v.agree()) {
            const auto fields = differing_fields(v);
            const std::string msg = !v.error.empty() ? v.error : "differs in " + join(fields);
            tc.failure = report::TestCase::Failure{
                msg, "log: " + r.records[i].decision + " policy=" + r.records[i].policy_id +
                         "\nlab: " + v.lab_decision + " policy=" + v.lab_policy_id + "\n"};
        }
        tc.badges = record_badges(r.records[i], v);
        tc.summary = record_summary(r.records[i], v);
        doc.cases.push_back(std::move(tc));
    }
    return doc;
}

} // namespace probes::replay
