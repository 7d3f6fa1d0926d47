// SPDX-License-Identifier: MIT
#include "probes/check/report.hpp"

#include "probes/check/attribution.hpp"
#include "probes/compare/diff.hpp"
#include "probes/compare/render.hpp"
#include "resolver/wire/message.hpp"

namespace probes::check {
namespace wire = resolver::wire;
using nlohmann::json;

namespace {

std::size_t passed(const CheckReport& r) {
    std::size_t n = 0;
    for (const auto& res : r.results) {
        n += res.failures.empty() ? 1 : 0;
    }
    return n;
}

json location_json(const Case& c, const CaseResult& res, bool lab_log) {
    json j = {
        {"requested", c.location.empty() ? json(nullptr) : json(c.location)},
        {"sent_as", res.location_sent_as.empty() ? json(nullptr) : json(res.location_sent_as)},
        {"source", res.source.empty() ? json(nullptr) : json(res.source)}};
    if (res.attributed) {
        const auto& a = *res.attributed;
        j["attributed"] = {{"location", a.location},
                           {"location_id", a.location_id},
                           {"subdomain", a.subdomain},
                           {"reason", a.reason},
                           {"src_ip", a.source}};
    } else {
        j["attributed"] = nullptr;
    }
    j["lab_log"] = lab_log;
    return j;
}

// "lab location: HQ (src-network:127.0.0.0/8)", "location: br4nch0b2c sent as EDNS 65011".
std::string location_line(const Case& c, const CaseResult& res, bool lab_log) {
    std::string out;
    if (!c.location.empty()) {
        out = "location: " + c.location;
        if (!res.location_sent_as.empty()) {
            out += " sent as " + res.location_sent_as;
        }
    } else if (!res.source.empty()) {
        out = "source: " + res.source;
    }
    if (res.attributed) {
        out += std::string(out.empty() ? "" : "; ") +
               "lab location: " + attribution_text(*res.attributed);
    } else if (!out.empty() && res.asked) {
        out += lab_log ? "; no lab log line for this query"
                       : "; lab attribution not checked "
                         "(no lab log)";
    }
    return out;
}

// The case's badges: pass or fail, and Blocked when the answer is a block.
std::vector<report::Badge> case_badges(const Case& c, const CaseResult& res) {
    std::vector<report::Badge> out{res.failures.empty() ? report::Badge::Pass
                                                        : report::Badge::Fail};
    if (res.asked && compare::is_block(compare::sinkhole_labels(res.observation, c.qtype))) {
        out.push_back(report::Badge::Blocked);
    }
    return out;
}

// "www.example.com A, expect blocked" or the first reason it failed.
std::string case_summary(const Case& c, const CaseResult& res) {
    if (!res.failures.empty()) {
        return res.failures.front();
    }
    std::string out = c.qname + " " + wire::type_name(c.qtype);
    return c.outcome.empty() ? out : out + ", expect " + c.outcome;
}

report::LatencyChart latency_chart(const CheckReport& r) {
    report::LatencySamples samples;
    for (const auto& res : r.results) {
        if (res.target.empty()) {
            continue;
        }
        samples.add_target(res.target, res.transport);
        if (res.timing) {
            samples.add(res.target, res.transport, res.timing->connect_ms, res.timing->query_ms,
                        res.timing->reused);
        }
    }
    return samples.chart("latency per target over the cases (one exchange each)");
}

} // namespace

json check_json(const CheckReport& r) {
    json results = json::array();
    for (const auto& res : r.results) {
        const auto& c = r.cases[res.case_index];
        json jr = {{"case", c.id},
                   {"name", c.qname},
                   {"type", wire::type_name(c.qtype)},
                   {"target", res.target},
                   {"transport", res.transport},
                   {"expect", c.outcome},
                   {"pass", res.failures.empty()},
                   {"failures", res.failures}};
        if (res.asked) {
            jr["result"] = compare::observation_json(res.observation);
            jr["labels"] = compare::sinkhole_labels(res.observation, c.qtype);
        }
        jr["location"] = location_json(c, res, r.lab_log);
        jr["latency"] = res.timing ? json{{"connect_ms", res.timing->connect_ms},
                                          {"query_ms", res.timing->query_ms},
                                          {"reused_connection", res.timing->reused}}
                                   : json(nullptr);
        results.push_back(jr);
    }
    const auto ok = passed(r);
    return {{"schema", "dnslab.probe.check.v1"},
            {"results", results},
            {"summary", {{"passed", ok}, {"failed", r.results.size() - ok}}},
            {"exit_code", r.all_pass() ? 0 : 1}};
}

report::Document to_document(const CheckReport& r) {
    report::Document doc;
    doc.title = "dnslab-probe check";
    doc.suite = "dnslab-probe.check";
    doc.machine = check_json(r);
    doc.exit_code = r.all_pass() ? 0 : 1;
    auto& s = doc.add_section();
    for (const auto& res : r.results) {
        const auto& c = r.cases[res.case_index];
        const bool ok = res.failures.empty();
        report::Spans head{
            report::badge_span(ok ? report::Badge::Pass : report::Badge::Fail,
                               ok ? "PASS" : "FAIL"),
            report::plain("  " + c.id + "  [" + (res.target.empty() ? "-" : res.target) + "]")};
        if (!c.outcome.empty()) {
            head.push_back(report::plain("  expect " + c.outcome));
        }
        s.blocks.emplace_back(report::line(head));
        for (const auto& f : res.failures) {
            s.blocks.emplace_back(report::line(f, 6));
        }
        if (auto loc = location_line(c, res, r.lab_log); !loc.empty()) {
            s.blocks.emplace_back(report::line(loc, 6));
        }
        if (!ok && res.asked) {
            s.blocks.emplace_back(
                report::Preformatted{6, "| ", "dns", compare::record_lines(res.observation)});
        }
        report::TestCase tc{
            c.id, res.target.empty() ? "(no target)" : res.target, std::nullopt, {}, {}};
        if (!ok) {
            std::string all;
            for (const auto& f : res.failures) {
                all += f + "\n";
            }
            tc.failure = report::TestCase::Failure{res.failures.front(), all};
        }
        tc.badges = case_badges(c, res);
        tc.summary = case_summary(c, res);
        doc.cases.push_back(std::move(tc));
    }
    const auto ok = passed(r);
    doc.headline = {report::plain(std::to_string(ok) + " passed, " +
                                  std::to_string(r.results.size() - ok) + " failed")};
    auto& end = doc.add_section();
    if (auto chart = latency_chart(r); !chart.rows.empty()) {
        end.blocks.emplace_back(std::move(chart));
    }
    end.blocks.emplace_back(report::line(doc.headline));
    return doc;
}

} // namespace probes::check
