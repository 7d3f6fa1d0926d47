// SPDX-License-Identifier: MIT
#include "probes/selftest/report.hpp"

#include <algorithm>
#include <cctype>
#include <set>
#include <sstream>

#include "probes/report/formats.hpp"

namespace probes::selftest {
using nlohmann::json;

const char* verdict_name(Verdict v) {
    switch (v) {
    case Verdict::Pass:
        return "pass";
    case Verdict::Fail:
        return "fail";
    case Verdict::Warn:
        return "warn";
    case Verdict::Info:
        return "info";
    case Verdict::Skipped:
        return "skipped";
    case Verdict::NotApplicable:
        return "not_applicable";
    }
    return "info";
}

bool verdict_from_name(const std::string& s, Verdict& out) {
    for (auto v : {Verdict::Pass, Verdict::Fail, Verdict::Warn, Verdict::Info, Verdict::Skipped,
                   Verdict::NotApplicable}) {
        if (s == verdict_name(v)) {
            out = v;
            return true;
        }
    }
    return false;
}

int Report::exit_code() const {
    return std::any_of(checks.begin(), checks.end(),
                       [](const Check& c) { return c.verdict == Verdict::Fail; })
               ? 1
               : 0;
}

std::map<std::string, int> Report::counts() const {
    std::map<std::string, int> out;
    for (auto v : {Verdict::Pass, Verdict::Fail, Verdict::Warn, Verdict::Info, Verdict::Skipped,
                   Verdict::NotApplicable}) {
        out[verdict_name(v)] = 0;
    }
    for (const auto& c : checks) {
        ++out[verdict_name(c.verdict)];
    }
    return out;
}

json to_json(const Report& r, bool redacted) {
    json endpoints = json::array();
    for (const auto& e : r.endpoints) {
        endpoints.push_back({{"id", e.id}, {"transport", e.transport}, {"url", e.url}});
    }
    json checks = json::array();
    for (const auto& c : r.checks) {
        checks.push_back({{"id", c.id},
                          {"category", c.category},
                          {"title", c.title},
                          {"verdict", verdict_name(c.verdict)},
                          {"detail", c.detail},
                          {"rcode", c.rcode},
                          {"answer", c.answer},
                          {"data", c.data}});
    }
    return {{"schema", kSchema},
            {"tool", {{"name", "dnslab-probe selftest"}, {"version", r.tool_version}}},
            {"generated_at", r.generated_at},
            {"profile", r.profile},
            {"redacted", redacted},
            {"duration_ms", r.duration_ms},
            {"endpoints", endpoints},
            {"checks", checks},
            {"local", r.local},
            {"summary", r.counts()},
            {"exit_code", r.exit_code()}};
}

namespace {

using report::Tone;
using report::toned;

std::string str(const json& j, const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

const char* badge(const std::string& verdict) {
    if (verdict == "pass") {
        return "PASS";
    }
    if (verdict == "fail") {
        return "FAIL";
    }
    if (verdict == "warn") {
        return "WARN";
    }
    if (verdict == "skipped") {
        return "SKIP";
    }
    if (verdict == "not_applicable") {
        return "N/A ";
    }
    return "INFO";
}

report::Badge badge_of(const std::string& verdict) {
    Verdict v = Verdict::Info;
    verdict_from_name(verdict, v);
    switch (v) {
    case Verdict::Pass:
        return report::Badge::Pass;
    case Verdict::Fail:
        return report::Badge::Fail;
    case Verdict::Warn:
        return report::Badge::Warn;
    case Verdict::Info:
        return report::Badge::Info;
    case Verdict::Skipped:
        return report::Badge::Skipped;
    case Verdict::NotApplicable:
        return report::Badge::NotApplicable;
    }
    return report::Badge::Info;
}

report::Span badge_span(const std::string& verdict) {
    return report::badge_span(badge_of(verdict), badge(verdict));
}

// The check's badges: its verdict, and Blocked when a policy check classified its answer
// as a block (data.classification, docs/selftest.md).
std::vector<report::Badge> check_badges(const json& c) {
    std::vector<report::Badge> out{badge_of(str(c, "verdict"))};
    const auto data = c.value("data", json::object());
    const auto cls = data.is_object() ? str(data, "classification") : std::string();
    if (cls == "blocked" || cls == "blockpage") {
        out.push_back(report::Badge::Blocked);
    }
    return out;
}

// Reachability per endpoint (data.latency of the reachability checks): one exchange each.
report::LatencyChart latency_chart(const json& r) {
    std::map<std::string, std::string> transport;
    for (const auto& e : r.value("endpoints", json::array())) {
        transport[str(e, "id")] = str(e, "transport");
    }
    report::LatencySamples samples;
    for (const auto& c : r.value("checks", json::array())) {
        const auto id = str(c, "id");
        if (id.rfind("reachability.", 0) != 0 || str(c, "verdict") == "skipped") {
            continue;
        }
        const auto endpoint = id.substr(std::string("reachability.").size());
        samples.add_target(endpoint, transport[endpoint]);
        const auto data = c.value("data", json::object());
        const auto lat = data.is_object() ? data.value("latency", json()) : json();
        if (lat.is_object() && lat.value("query_ms", json()).is_number()) {
            samples.add(endpoint, transport[endpoint], lat.value("connect_ms", 0.0),
                        lat.value("query_ms", 0.0), false);
        }
    }
    return samples.chart("reachability: one query per endpoint (connect: the new connection)");
}

// A JSON value in words: strings as they are, arrays joined, objects as "key value" pairs.
std::string words(const json& v) {
    if (v.is_null()) {
        return "-";
    }
    if (v.is_string()) {
        return v.get<std::string>();
    }
    if (v.is_boolean()) {
        return v.get<bool>() ? "yes" : "no";
    }
    if (v.is_array()) {
        std::string out;
        for (const auto& x : v) {
            out += (out.empty() ? "" : ", ") + words(x);
        }
        return out.empty() ? "(none)" : out;
    }
    if (v.is_object()) {
        std::string out;
        for (const auto& [k, x] : v.items()) {
            out += (out.empty() ? "" : ", ") + k + " " + words(x);
        }
        return out.empty() ? "(none)" : out;
    }
    return v.dump();
}

// The facts of a check's data (or of the local configuration), one "key: value" line each;
// an object gets a sub-list of its keys, a list of objects one sub-line per item.
void describe(report::Section& s, const json& data, int indent, int depth = 0) {
    for (const auto& [k, v] : data.items()) {
        const bool objects =
            v.is_array() && !v.empty() &&
            std::all_of(v.begin(), v.end(), [](const json& x) { return x.is_object(); });
        if (v.is_object() && !v.empty() && depth < 2) {
            s.blocks.emplace_back(report::line(k + ":", indent));
            describe(s, v, indent + 2, depth + 1);
        } else if (objects) {
            s.blocks.emplace_back(report::line(k + ":", indent));
            for (const auto& x : v) {
                s.blocks.emplace_back(report::line(words(x), indent + 2));
            }
        } else {
            s.blocks.emplace_back(report::line(k + ": " + words(v), indent));
        }
    }
}

std::vector<std::string> failed_ids(const json& report) {
    std::vector<std::string> out;
    for (const auto& c : report.value("checks", json::array())) {
        if (str(c, "verdict") == "fail") {
            out.push_back(str(c, "id"));
        }
    }
    return out;
}

std::string join(const std::vector<std::string>& v, const char* sep = ", ") {
    std::string out;
    for (const auto& x : v) {
        out += (out.empty() ? "" : sep) + x;
    }
    return out;
}

void add_facts(report::Document& doc, const json& r) {
    auto& s = doc.add_section(report::Audience::Detail);
    auto fact = [&](const std::string& k, report::Span v) {
        s.blocks.emplace_back(report::line({report::plain(k + ": "), std::move(v)}, 2));
    };
    fact("schema", toned(str(r, "schema"), Tone::Code));
    fact("generated", report::plain(str(r, "generated_at")));
    fact("profile", report::plain(str(r, "profile")));
    fact("redacted", report::plain(r.value("redacted", false) ? "yes" : "no"));
    fact("exit code", report::plain(std::to_string(r.value("exit_code", 0))));
    s.blocks.emplace_back(report::Heading{2, {report::plain("Endpoints")}});
    report::Table t{0, {{"id"}, {"transport"}, {"url"}}, {}};
    for (const auto& e : r.value("endpoints", json::array())) {
        t.rows.push_back({{report::plain(str(e, "id"))},
                          {report::plain(str(e, "transport"))},
                          {toned(str(e, "url"), Tone::Code)}});
    }
    s.blocks.emplace_back(std::move(t));
}

void add_check_table(report::Document& doc, const json& r) {
    auto& s = doc.add_section(report::Audience::Detail);
    s.blocks.emplace_back(report::Heading{2, {report::plain("Checks")}});
    report::Table t{0, {{"verdict"}, {"check"}, {"rcode"}, {"answer"}, {"reason"}}, {}};
    for (const auto& c : r.value("checks", json::array())) {
        const auto v = str(c, "verdict");
        t.rows.push_back({{badge_span(v)},
                          {toned(str(c, "id"), Tone::Code), report::plain(" " + str(c, "title"))},
                          {report::plain(str(c, "rcode"))},
                          {report::plain(str(c, "answer"))},
                          {report::plain(str(c, "detail"))}});
    }
    s.blocks.emplace_back(std::move(t));
}

void add_problems(report::Document& doc, const json& r) {
    auto& s = doc.add_section(report::Audience::Detail);
    bool heading = false;
    for (const auto& c : r.value("checks", json::array())) {
        const auto v = str(c, "verdict");
        if (v != "fail" && v != "warn") {
            continue;
        }
        if (!heading) {
            s.blocks.emplace_back(report::Heading{2, {report::plain("Problems in detail")}});
            heading = true;
        }
        s.blocks.emplace_back(
            report::Heading{3,
                            {badge_span(v), report::plain(" "), toned(str(c, "id"), Tone::Code),
                             report::plain(" " + str(c, "title"))}});
        s.blocks.emplace_back(report::line(str(c, "detail")));
        if (!str(c, "rcode").empty()) {
            s.blocks.emplace_back(report::line("rcode: " + str(c, "rcode"), 2));
        }
        if (!str(c, "answer").empty()) {
            s.blocks.emplace_back(report::line("answer: " + str(c, "answer"), 2));
        }
        describe(s, c.value("data", json::object()), 2);
    }
}

void add_latency(report::Document& doc, const json& r) {
    auto chart = latency_chart(r);
    if (chart.rows.empty()) {
        return;
    }
    auto& s = doc.add_section(report::Audience::Detail);
    s.blocks.emplace_back(report::Heading{2, {report::plain("Latency")}});
    s.blocks.emplace_back(std::move(chart));
}

void add_local(report::Document& doc, const json& r) {
    auto& s = doc.add_section(report::Audience::Detail);
    s.blocks.emplace_back(report::Heading{2, {report::plain("Local configuration")}});
    describe(s, r.value("local", json::object()), 2);
}

void add_brief(report::Document& doc, const json& r) {
    auto& s = doc.add_section(report::Audience::Brief);
    for (const auto& c : r.value("checks", json::array())) {
        const auto v = str(c, "verdict");
        std::string text = "  " + str(c, "title");
        if (!str(c, "detail").empty()) {
            text += ": " + str(c, "detail");
        }
        s.blocks.emplace_back(report::line({badge_span(v), report::plain(text)}));
    }
}

void add_verdict(report::Document& doc, const json& r) {
    auto& s = doc.add_section();
    s.blocks.emplace_back(report::Break{});
    const auto sum = r.value("summary", json::object());
    s.blocks.emplace_back(report::line(
        std::to_string(sum.value("pass", 0)) + " passed, " + std::to_string(sum.value("fail", 0)) +
        " failed, " + std::to_string(sum.value("warn", 0)) + " warnings, " +
        std::to_string(sum.value("info", 0)) + " info, " + std::to_string(sum.value("skipped", 0)) +
        " skipped, " + std::to_string(sum.value("not_applicable", 0)) + " not applicable"));
    const auto failed = failed_ids(r);
    if (failed.empty()) {
        doc.headline = {report::plain("Verdict: "), toned("OK", Tone::Good)};
    } else {
        doc.headline = {report::plain("Verdict: "), toned("PROBLEMS FOUND", Tone::Bad),
                        report::plain(" in " + join(failed) + " (see the FAIL lines)")};
    }
    s.blocks.emplace_back(report::line(doc.headline));
}

} // namespace

report::Document to_document(const json& r) {
    report::Document doc;
    doc.title = "dnslab self-test report";
    doc.suite = "dnslab-selftest";
    doc.machine = r;
    doc.exit_code = r.value("exit_code", 0);
    add_facts(doc, r);
    add_check_table(doc, r);
    add_problems(doc, r);
    add_latency(doc, r);
    add_local(doc, r);
    add_brief(doc, r);
    add_verdict(doc, r);
    for (const auto& c : r.value("checks", json::array())) {
        report::TestCase tc{
            "dnslab-selftest." + str(c, "category"), str(c, "id"), std::nullopt, {}, {}};
        if (str(c, "verdict") == "fail") {
            tc.failure = report::TestCase::Failure{str(c, "detail"), str(c, "title")};
        }
        tc.badges = check_badges(c);
        tc.summary = str(c, "title") + (str(c, "detail").empty() ? "" : ": " + str(c, "detail"));
        doc.cases.push_back(std::move(tc));
    }
    return doc;
}

namespace {

bool addr_char(char c, bool v6) {
    return std::isdigit(static_cast<unsigned char>(c)) != 0 || c == '.' ||
           (v6 && (std::isxdigit(static_cast<unsigned char>(c)) != 0 || c == ':'));
}

} // namespace

std::string redact_text(const std::string& text, const std::vector<std::string>& addresses,
                        const std::string& hostname) {
    std::set<std::string> uniq(addresses.begin(), addresses.end());
    uniq.erase("");
    // Placeholders numbered in sorted order per family: stable for the same address set.
    std::vector<std::pair<std::string, std::string>> map;
    int n4 = 0;
    int n6 = 0;
    for (const auto& a : uniq) {
        const bool v6 = a.find(':') != std::string::npos;
        map.emplace_back(a, v6 ? "<ipv6-" + std::to_string(++n6) + ">"
                               : "<ipv4-" + std::to_string(++n4) + ">");
    }
    std::sort(map.begin(), map.end(),
              [](const auto& x, const auto& y) { return x.first.size() > y.first.size(); });
    std::string out = text;
    for (const auto& [addr, ph] : map) {
        const bool v6 = addr.find(':') != std::string::npos;
        std::string next;
        std::size_t pos = 0;
        while (true) {
            auto hit = out.find(addr, pos);
            if (hit == std::string::npos) {
                next.append(out, pos, std::string::npos);
                break;
            }
            const auto end = hit + addr.size();
            const bool left_ok = hit == 0 || !addr_char(out[hit - 1], v6);
            const bool right_ok = end >= out.size() || !addr_char(out[end], v6);
            next.append(out, pos, hit - pos);
            next += (left_ok && right_ok) ? ph : addr;
            pos = end;
        }
        out = std::move(next);
    }
    if (hostname.size() >= 2) {
        std::string next;
        std::size_t pos = 0;
        while (true) {
            auto hit = out.find(hostname, pos);
            if (hit == std::string::npos) {
                next.append(out, pos, std::string::npos);
                break;
            }
            next.append(out, pos, hit - pos);
            next += "<hostname>";
            pos = hit + hostname.size();
        }
        out = std::move(next);
    }
    return out;
}

namespace {

// A table cell stays readable on a terminal; the JSON keeps the full texts.
std::string cut(const std::string& s, std::size_t max = 72) {
    return s.size() <= max ? s : s.substr(0, max - 3) + "...";
}

// One endpoint's policy outcome in a few words: "blockpage NOERROR 162.159.36.12".
std::string outcome_words(const json& o) {
    std::string out = str(o, "classification");
    if (!str(o, "rcode").empty()) {
        out += " " + str(o, "rcode");
    }
    if (o.contains("answer") && o["answer"].is_array() && !o["answer"].empty()) {
        out += " " + words(o["answer"]);
    }
    if (!str(o, "error").empty()) {
        out += " (" + str(o, "error") + ")";
    }
    return out;
}

// The rows of one changed fact. Facts per endpoint (identity, outcomes) get a row per
// endpoint that changed, so the table shows what moved rather than two long cells.
std::vector<DiffRow> fact_rows(const std::string& id, const std::string& key, const json& a,
                               const json& b) {
    std::vector<DiffRow> rows;
    if (!a.is_object() || !b.is_object()) {
        rows.push_back({id, key + " " + words(a), key + " " + words(b), ""});
        return rows;
    }
    auto said = [&](const json& v) { return v.is_object() ? outcome_words(v) : words(v); };
    std::set<std::string> subs;
    for (const auto* side : {&a, &b}) {
        for (const auto& [k, v] : side->items()) {
            subs.insert(k);
        }
    }
    for (const auto& k : subs) {
        const bool in_a = a.contains(k);
        const bool in_b = b.contains(k);
        if (in_a && in_b && a[k] == b[k]) {
            continue;
        }
        const std::string what = key + " " + k + " ";
        rows.push_back({id, in_a ? what + said(a[k]) : what + "(absent)",
                        in_b ? what + said(b[k]) : what + "(absent)", ""});
    }
    return rows;
}

std::string verdict_and_detail(const json& c) {
    const auto d = str(c, "detail");
    return str(c, "verdict") + (d.empty() ? "" : ": " + d);
}

} // namespace

std::vector<DiffRow> diff_rows(const json& a, const json& b) {
    std::vector<DiffRow> out;
    std::map<std::string, json> ca;
    std::map<std::string, json> cb;
    std::vector<std::string> order;
    for (const auto& c : a.value("checks", json::array())) {
        ca[str(c, "id")] = c;
        order.push_back(str(c, "id"));
    }
    for (const auto& c : b.value("checks", json::array())) {
        if (ca.count(str(c, "id")) == 0U) {
            order.push_back(str(c, "id"));
        }
        cb[str(c, "id")] = c;
    }
    if (str(a, "profile") != str(b, "profile")) {
        out.push_back({"profile", str(a, "profile"), str(b, "profile"),
                       "profile: " + str(a, "profile") + " -> " + str(b, "profile")});
    }
    for (const auto& id : order) {
        const bool ina = ca.count(id) != 0U;
        const bool inb = cb.count(id) != 0U;
        if (!inb) {
            out.push_back({id, verdict_and_detail(ca[id]), "(absent)",
                           id + ": only in A (" + str(ca[id], "verdict") + ")"});
            continue;
        }
        if (!ina) {
            out.push_back({id, "(absent)", verdict_and_detail(cb[id]),
                           id + ": only in B (" + str(cb[id], "verdict") + ")"});
            continue;
        }
        const auto& x = ca[id];
        const auto& y = cb[id];
        if (str(x, "verdict") != str(y, "verdict")) {
            out.push_back({id, verdict_and_detail(x), verdict_and_detail(y),
                           id + ": " + str(x, "verdict") + " -> " + str(y, "verdict") +
                               " (A: " + str(x, "detail") + "; B: " + str(y, "detail") + ")"});
            continue;
        }
        // Same verdict: name the facts engineers compare first.
        const auto dx = x.value("data", json::object());
        const auto dy = y.value("data", json::object());
        for (const char* key :
             {"issuer", "protocol", "identity", "classification", "outcomes", "udp_size"}) {
            if (dx.contains(key) && dy.contains(key) && dx[key] != dy[key]) {
                const std::string line =
                    id + ": " + key + " " + dx[key].dump() + " -> " + dy[key].dump();
                for (auto& row : fact_rows(id, key, dx[key], dy[key])) {
                    row.line = line;
                    out.push_back(std::move(row));
                }
            }
        }
    }
    return out;
}

std::vector<std::string> diff_reports(const json& a, const json& b) {
    std::vector<std::string> out;
    for (const auto& r : diff_rows(a, b)) {
        if (out.empty() || out.back() != r.line) { // a fact's rows share its line
            out.push_back(r.line);
        }
    }
    return out;
}

report::Document diff_document(const json& a, const json& b, const std::string& a_name,
                               const std::string& b_name) {
    const auto rows = diff_rows(a, b);
    report::Document doc;
    doc.title = "dnslab self-test diff";
    doc.suite = "dnslab-selftest.diff";
    doc.exit_code = rows.empty() ? 0 : 1;
    json checks = json::array();
    for (const auto& r : rows) {
        checks.push_back({{"check", r.check}, {"before", r.before}, {"after", r.after}});
    }
    const json lines = diff_reports(a, b);
    doc.machine = {{"schema", "dnslab.selftest.diff.v1"},
                   {"a", a_name},
                   {"b", b_name},
                   {"differences", lines},
                   {"checks", checks}};
    auto& s = doc.add_section();
    s.blocks.emplace_back(report::line("before: " + a_name + " (" + str(a, "generated_at") + ")"));
    s.blocks.emplace_back(report::line("after:  " + b_name + " (" + str(b, "generated_at") + ")"));
    s.blocks.emplace_back(report::Break{});
    if (!rows.empty()) {
        report::Table t{0, {{"check"}, {"before"}, {"after"}}, {}};
        for (const auto& r : rows) {
            t.rows.push_back({{toned(r.check, Tone::Code)},
                              {report::plain(cut(r.before))},
                              {report::plain(cut(r.after))}});
            report::TestCase tc{
                "dnslab-selftest.diff", r.check, report::TestCase::Failure{r.line, r.line}, {}, {}};
            tc.badges = {report::Badge::Differ};
            tc.summary = r.before + " -> " + r.after;
            doc.cases.push_back(std::move(tc));
        }
        s.blocks.emplace_back(std::move(t));
        s.blocks.emplace_back(report::Break{});
    }
    doc.headline = {report::plain(rows.empty() ? "reports agree"
                                               : std::to_string(rows.size()) + " differences")};
    s.blocks.emplace_back(report::line(doc.headline));
    return doc;
}

} // namespace probes::selftest
