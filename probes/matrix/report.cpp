// SPDX-License-Identifier: MIT
#include "probes/matrix/report.hpp"

#include <algorithm>
#include <cstdio>

#include "probes/compare/render.hpp"
#include "resolver/wire/message.hpp"

namespace probes::matrix {
namespace wire = resolver::wire;
using nlohmann::json;
using report::Tone;
using report::toned;

namespace {

std::string fmt_ms(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f", v);
    return buf;
}

std::string join(const std::vector<std::string>& v, const char* sep = ", ") {
    std::string out;
    for (const auto& s : v) {
        out += (out.empty() ? "" : sep) + s;
    }
    return out;
}

std::string members_of(const QuestionReport& q, const compare::AgreementClass& cls) {
    std::vector<std::string> names;
    for (auto m : cls.members) {
        names.push_back(q.observations[m].target);
    }
    return join(names);
}

report::Badge level_badge(const std::string& level) {
    return level == "identical"    ? report::Badge::Identical
           : level == "equivalent" ? report::Badge::Equivalent
           : level == "differ"     ? report::Badge::Differ
                                   : report::Badge::AllFailed;
}

// The question's badges: its level, and Blocked when some target's answer is a block.
std::vector<report::Badge> question_badges(const QuestionReport& q) {
    std::vector<report::Badge> out{level_badge(q.comparison.level)};
    const auto& classes = q.comparison.classes;
    if (std::any_of(classes.begin(), classes.end(),
                    [](const compare::AgreementClass& c) { return compare::is_block(c.labels); })) {
        out.push_back(report::Badge::Blocked);
    }
    return out;
}

report::Span labels_span(const compare::AgreementClass& cls) {
    const std::string text = "[" + join(cls.labels, ",") + "]";
    return compare::is_block(cls.labels) ? report::badge_span(report::Badge::Blocked, text)
                                         : toned(text, Tone::Warn);
}

std::string question_name(const QuestionReport& q) {
    return q.question.name + " " + wire::type_name(q.question.type);
}

void add_question(report::Section& s, const QuestionReport& q) {
    const auto& cmp = q.comparison;
    report::Spans head{toned(";; " + question_name(q), Tone::Strong), report::plain("  "),
                       report::badge_span(level_badge(cmp.level), cmp.level)};
    if (!cmp.verdict_detail.empty()) {
        head.push_back(report::plain(" - " + cmp.verdict_detail));
    }
    s.blocks.emplace_back(report::Heading{3, head});
    for (std::size_t ci = 0; ci < cmp.classes.size(); ++ci) {
        const auto& cls = cmp.classes[ci];
        report::Spans spans{report::plain("class " + std::to_string(ci + 1))};
        if (!cls.labels.empty()) {
            spans.push_back(report::plain(" "));
            spans.push_back(labels_span(cls));
        }
        spans.push_back(report::plain(": " + members_of(q, cls)));
        s.blocks.emplace_back(report::line(spans, 2));
        s.blocks.emplace_back(report::Preformatted{
            4, "", "dns", compare::record_lines(q.observations[cls.members.front()])});
        if (ci > 0) {
            const auto& d = cmp.differences[ci - 1];
            s.blocks.emplace_back(
                report::line({toned("first difference vs class 1: " + d.field, Tone::Warn),
                              report::plain(": " + d.a + "  |  " + d.b)},
                             4));
        }
    }
    for (const auto& n : cmp.notes) {
        s.blocks.emplace_back(report::line("note: " + n, 2));
    }
    for (const auto& n : q.instability) {
        s.blocks.emplace_back(report::line({toned("unstable: ", Tone::Warn), report::plain(n)}, 2));
    }
    s.blocks.emplace_back(report::Break{});
}

void add_short(report::Section& s, const QuestionReport& q) {
    const auto& cmp = q.comparison;
    for (std::size_t ci = 0; ci < cmp.classes.size(); ++ci) {
        const auto& cls = cmp.classes[ci];
        const auto& rep = q.observations[cls.members.front()];
        if (cmp.classes.size() > 1) {
            // dig +short says nothing about who answered; with several answers it must.
            std::string head = ";; " + members_of(q, cls);
            if (!cls.labels.empty()) {
                head += " [" + join(cls.labels, ",") + "]";
            }
            s.blocks.emplace_back(report::line(head));
        }
        auto data = compare::short_lines(rep);
        if (data.empty() && cmp.classes.size() > 1) {
            data.push_back(rep.error ? ";; error: " + *rep.error
                                     : ";; " + wire::rcode_name(rep.rcode) + ", no answer records");
        }
        if (!data.empty()) {
            s.blocks.emplace_back(report::Preformatted{0, "", "", data});
        }
    }
}

// The same run as a chart, per target over every question and pass.
report::LatencyChart latency_chart(const MatrixReport& r) {
    report::LatencySamples samples;
    for (std::size_t ti = 0; ti < r.targets.size() && ti < r.target_latency.size(); ++ti) {
        const auto& lat = r.target_latency[ti];
        samples.add_target(r.targets[ti].name, r.targets[ti].transport);
        for (std::size_t i = 0; i < lat.query_ms.size(); ++i) {
            samples.add(r.targets[ti].name, r.targets[ti].transport,
                        i < lat.connect_ms.size() ? lat.connect_ms[i] : 0, lat.query_ms[i],
                        i < lat.reused.size() && lat.reused[i]);
        }
    }
    const auto nq = r.questions.size();
    return samples.chart(
        "latency per target over " + std::to_string(nq) + (nq == 1 ? " question" : " questions") +
        " and " + std::to_string(r.repeat) + (r.repeat == 1 ? " pass" : " passes (pass 1 cold)"));
}

void add_latency(report::Section& s, const MatrixReport& r) {
    const auto nq = r.questions.size();
    s.blocks.emplace_back(report::line(
        "latency ms (" + std::to_string(nq) + (nq == 1 ? " question, " : " questions, ") +
        std::to_string(r.repeat) + (r.repeat == 1 ? " pass)" : " passes, pass 1 cold)")));
    s.blocks.emplace_back(latency_chart(r));
    using Col = report::Table::Column;
    constexpr auto kRight = report::Table::Align::Right;
    report::Table t{2,
                    {Col{"target", report::Table::Align::Left}, Col{"connect", kRight},
                     Col{"query", kRight}, Col{"p50", kRight}, Col{"p95", kRight},
                     Col{"max", kRight}},
                    {}};
    for (std::size_t ti = 0; ti < r.targets.size() && ti < r.target_latency.size(); ++ti) {
        const auto& lat = r.target_latency[ti];
        // connect and query: the first (cold) exchange; the percentiles: every exchange.
        t.rows.push_back({{report::plain(r.targets[ti].name)},
                          {report::plain(lat.connect_ms.empty() ? "-" : fmt_ms(lat.connect_ms[0]))},
                          {report::plain(lat.query_ms.empty() ? "-" : fmt_ms(lat.query_ms[0]))},
                          {report::plain(fmt_ms(lat.p50))},
                          {report::plain(fmt_ms(lat.p95))},
                          {report::plain(fmt_ms(lat.max))}});
    }
    s.blocks.emplace_back(std::move(t));
    s.blocks.emplace_back(report::Break{});
}

std::string summary_line(const MatrixReport& r) {
    const auto nq = r.questions.size();
    std::string out = std::to_string(nq) + (nq == 1 ? " question: " : " questions: ") +
                      std::to_string(r.count("identical")) + " identical, " +
                      std::to_string(r.count("equivalent")) + " equivalent, " +
                      std::to_string(r.count("differ")) + " differ";
    if (const auto failed = r.count("all-failed"); failed > 0) {
        out += ", " + std::to_string(failed) + " all failed";
    }
    return out;
}

json latency_json(const Latency& lat) {
    return {{"connect_ms", lat.connect_ms},
            {"query_ms", lat.query_ms},
            {"reused_connection", lat.reused},
            {"p50_ms", lat.p50},
            {"p95_ms", lat.p95},
            {"max_ms", lat.max}};
}

} // namespace

json to_json(const MatrixReport& r) {
    json doc = {{"schema", "dnslab.probe.v1"}, {"repeat", r.repeat}};
    json targets = json::array();
    for (std::size_t ti = 0; ti < r.targets.size(); ++ti) {
        const auto& t = r.targets[ti];
        json jt = {{"name", t.name}, {"url", t.url.to_string()}, {"transport", t.transport}};
        if (ti < r.target_latency.size()) {
            const auto& lat = r.target_latency[ti];
            jt["latency"] = {{"queries", lat.query_ms.size()},
                             {"p50_ms", lat.p50},
                             {"p95_ms", lat.p95},
                             {"max_ms", lat.max}};
        }
        targets.push_back(jt);
    }
    doc["targets"] = targets;
    json questions = json::array();
    std::size_t agree = 0, differ = 0, failed = 0;
    for (const auto& q : r.questions) {
        const auto& cmp = q.comparison;
        (cmp.verdict == "agree" ? agree : cmp.verdict == "differ" ? differ : failed)++;
        json jq = {{"name", q.question.name},
                   {"type", wire::type_name(q.question.type)},
                   {"verdict", cmp.verdict},
                   {"level", cmp.level},
                   {"verdict_detail", cmp.verdict_detail},
                   {"notes", cmp.notes},
                   {"instability", q.instability}};
        json classes = json::array();
        for (std::size_t ci = 0; ci < cmp.classes.size(); ++ci) {
            json members = json::array();
            for (auto m : cmp.classes[ci].members) {
                members.push_back(q.observations[m].target);
            }
            json jc = {{"targets", members}, {"labels", cmp.classes[ci].labels}};
            jc["first_difference"] = ci == 0 ? json(nullptr)
                                             : json{{"field", cmp.differences[ci - 1].field},
                                                    {"class1", cmp.differences[ci - 1].a},
                                                    {"this", cmp.differences[ci - 1].b}};
            classes.push_back(jc);
        }
        jq["classes"] = classes;
        json results = json::array();
        for (std::size_t ti = 0; ti < q.observations.size(); ++ti) {
            json jr = compare::observation_json(q.observations[ti]);
            jr["labels"] =
                compare::sinkhole_labels(q.observations[ti], q.question.type, q.observations);
            jr["latency"] = latency_json(q.latency[ti]);
            results.push_back(jr);
        }
        jq["results"] = results;
        questions.push_back(jq);
    }
    doc["questions"] = questions;
    doc["summary"] = {{"questions", r.questions.size()},
                      {"agree", agree},
                      {"differ", differ},
                      {"all_failed", failed},
                      {"identical", r.count("identical")},
                      {"equivalent", r.count("equivalent")}};
    doc["exit_code"] = r.all_agree() ? 0 : 1;
    return doc;
}

report::Document to_document(const MatrixReport& r, const ViewOptions& view) {
    report::Document doc;
    doc.title = "dnslab-probe";
    doc.suite = "dnslab-probe";
    doc.machine = to_json(r);
    doc.exit_code = r.all_agree() ? 0 : 1;
    auto& answers = doc.add_section();
    for (const auto& q : r.questions) {
        if (view.short_answers) {
            add_short(answers, q);
        } else {
            add_question(answers, q);
        }
        report::TestCase tc{"dnslab-probe.matrix", question_name(q), std::nullopt, {}, {}};
        if (q.comparison.verdict != "agree") {
            std::string msg = q.comparison.verdict;
            if (!q.comparison.differences.empty()) {
                msg += ": first difference " + q.comparison.differences.front().field;
            }
            tc.failure = report::TestCase::Failure{msg, q.comparison.verdict_detail};
        }
        tc.badges = question_badges(q);
        tc.summary = q.comparison.verdict_detail;
        doc.cases.push_back(std::move(tc));
    }
    doc.headline = {report::plain(summary_line(r))};
    if (!view.short_answers) {
        add_latency(doc.add_section(), r);
        doc.add_section().blocks.emplace_back(report::line(doc.headline));
    }
    return doc;
}

} // namespace probes::matrix
