// SPDX-License-Identifier: MIT
#include "probes/selftest/report.hpp"

#include <algorithm>
#include <cctype>
#include <set>
#include <sstream>

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

std::string str(const json& j, const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// Markdown table cells must not contain pipes or newlines.
std::string cell(std::string s) {
    std::string out;
    for (char c : s) {
        if (c == '|') {
            out += "\\|";
        } else if (c == '\n') {
            out += ' ';
        } else {
            out += c;
        }
    }
    return out;
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

} // namespace

std::string to_markdown(const json& report) {
    std::ostringstream out;
    out << "# dnslab self-test report\n\n";
    out << "- schema: `" << str(report, "schema") << "`\n";
    out << "- generated: " << str(report, "generated_at") << "\n";
    out << "- profile: " << str(report, "profile") << "\n";
    out << "- redacted: " << (report.value("redacted", false) ? "yes" : "no") << "\n";
    out << "- exit code: " << report.value("exit_code", 0) << "\n\n";
    out << "## Summary\n\n";
    if (report.contains("summary")) {
        for (const auto& [k, v] : report["summary"].items()) {
            out << "- " << k << ": " << v.dump() << "\n";
        }
    }
    out << "\n## Endpoints\n\n| id | transport | url |\n|---|---|---|\n";
    for (const auto& e : report.value("endpoints", json::array())) {
        out << "| " << cell(str(e, "id")) << " | " << cell(str(e, "transport")) << " | `"
            << cell(str(e, "url")) << "` |\n";
    }
    out << "\n## Checks\n\n| verdict | check | detail |\n|---|---|---|\n";
    for (const auto& c : report.value("checks", json::array())) {
        out << "| " << badge(str(c, "verdict")) << " | `" << cell(str(c, "id")) << "` "
            << cell(str(c, "title")) << " | " << cell(str(c, "detail")) << " |\n";
    }
    bool heading = false;
    for (const auto& c : report.value("checks", json::array())) {
        const auto v = str(c, "verdict");
        if (v != "fail" && v != "warn") {
            continue;
        }
        if (!heading) {
            out << "\n## Problems in detail\n";
            heading = true;
        }
        out << "\n### " << badge(v) << " `" << str(c, "id") << "`\n\n"
            << str(c, "detail") << "\n\n```json\n"
            << c.value("data", json::object()).dump(2) << "\n```\n";
    }
    out << "\n## Local configuration\n\n```json\n"
        << report.value("local", json::object()).dump(2) << "\n```\n";
    return out.str();
}

std::string render_summary(const json& report, bool color) {
    auto paint = [&](const std::string& verdict, const std::string& s) {
        if (!color) {
            return s;
        }
        const char* code = verdict == "pass"   ? "32"
                           : verdict == "fail" ? "31"
                           : verdict == "warn" ? "33"
                                               : "2";
        return std::string("\033[") + code + "m" + s + "\033[0m";
    };
    std::ostringstream out;
    for (const auto& c : report.value("checks", json::array())) {
        const auto v = str(c, "verdict");
        out << paint(v, badge(v)) << "  " << str(c, "title");
        const auto d = str(c, "detail");
        if (!d.empty()) {
            out << ": " << d;
        }
        out << "\n";
    }
    const auto s = report.value("summary", json::object());
    out << "\n"
        << s.value("pass", 0) << " passed, " << s.value("fail", 0) << " failed, "
        << s.value("warn", 0) << " warnings, " << s.value("info", 0) << " info, "
        << s.value("skipped", 0) << " skipped, " << s.value("not_applicable", 0)
        << " not applicable\n";
    out << (report.value("exit_code", 0) == 0 ? "Verdict: OK"
                                              : "Verdict: PROBLEMS FOUND (see the FAIL lines)")
        << "\n";
    return out.str();
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

std::vector<std::string> diff_reports(const json& a, const json& b) {
    std::vector<std::string> out;
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
        out.push_back("profile: " + str(a, "profile") + " -> " + str(b, "profile"));
    }
    for (const auto& id : order) {
        const bool ina = ca.count(id) != 0U;
        const bool inb = cb.count(id) != 0U;
        if (!inb) {
            out.push_back(id + ": only in A (" + str(ca[id], "verdict") + ")");
            continue;
        }
        if (!ina) {
            out.push_back(id + ": only in B (" + str(cb[id], "verdict") + ")");
            continue;
        }
        const auto& x = ca[id];
        const auto& y = cb[id];
        if (str(x, "verdict") != str(y, "verdict")) {
            out.push_back(id + ": " + str(x, "verdict") + " -> " + str(y, "verdict") +
                          " (A: " + str(x, "detail") + "; B: " + str(y, "detail") + ")");
            continue;
        }
        // Same verdict: name the facts engineers compare first.
        const auto dx = x.value("data", json::object());
        const auto dy = y.value("data", json::object());
        for (const char* key :
             {"issuer", "protocol", "identity", "classification", "outcomes", "udp_size"}) {
            if (dx.contains(key) && dy.contains(key) && dx[key] != dy[key]) {
                out.push_back(id + ": " + key + " " + dx[key].dump() + " -> " + dy[key].dump());
            }
        }
    }
    return out;
}

} // namespace probes::selftest
