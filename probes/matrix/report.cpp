// SPDX-License-Identifier: MIT
#include "probes/matrix/report.hpp"

#include <cstdio>
#include <sstream>

#include "probes/common/present.hpp"
#include "resolver/wire/message.hpp"

namespace probes::matrix {
namespace wire = resolver::wire;
using nlohmann::json;

namespace {
struct Palette {
    bool on;
    [[nodiscard]] std::string wrap(const char* code, const std::string& s) const {
        return on ? std::string("\033[") + code + "m" + s + "\033[0m" : s;
    }
    [[nodiscard]] std::string good(const std::string& s) const { return wrap("32", s); }
    [[nodiscard]] std::string bad(const std::string& s) const { return wrap("31", s); }
    [[nodiscard]] std::string warn(const std::string& s) const { return wrap("33", s); }
    [[nodiscard]] std::string bold(const std::string& s) const { return wrap("1", s); }
};

std::string fmt_ms(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f", v);
    return buf;
}

json rrsets_json(const std::vector<compare::RRset>& sets) {
    json arr = json::array();
    for (const auto& s : sets) {
        arr.push_back({{"name", s.name},
                       {"type", wire::type_name(s.type)},
                       {"ttl", s.ttl},
                       {"rdata", s.rdata}});
    }
    return arr;
}

std::string flags_text(const compare::Flags& f) {
    std::string out;
    const std::pair<const char*, std::optional<bool>> bits[] = {
        {"aa", f.aa}, {"tc", f.tc}, {"rd", f.rd}, {"ra", f.ra}, {"ad", f.ad}, {"cd", f.cd}};
    for (const auto& [n, v] : bits) {
        if (v.value_or(false)) {
            out += (out.empty() ? "" : " ") + std::string(n);
        }
    }
    return out;
}
} // namespace

std::string xml_escape(const std::string& s) {
    std::string out;
    for (char c : s) {
        switch (c) {
        case '&':
            out += "&amp;";
            break;
        case '<':
            out += "&lt;";
            break;
        case '>':
            out += "&gt;";
            break;
        case '"':
            out += "&quot;";
            break;
        default:
            // Control characters are not allowed in XML 1.0.
            out += (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t') ? '?' : c;
        }
    }
    return out;
}

std::vector<std::string> record_lines(const compare::Observation& o) {
    std::vector<std::string> out;
    if (o.error) {
        out.push_back(";; error: " + *o.error);
        return out;
    }
    if (!o.wire.empty()) {
        auto p = common::present(o.wire);
        out.push_back(p.header);
        for (const auto& l : p.answer) {
            out.push_back(l);
        }
        for (const auto& l : p.authority) {
            out.push_back(l + "   ; authority");
        }
        for (const auto& e : o.ede) {
            out.push_back(";; EDE " + std::to_string(e.code) +
                          (e.text.empty() ? "" : ": " + e.text));
        }
        return out;
    }
    out.push_back(";; status: " + wire::rcode_name(o.rcode) + ", flags: " + flags_text(o.flags) +
                  " (DoH JSON)");
    for (const auto& s : o.answer) {
        for (const auto& r : s.rdata) {
            out.push_back(s.name + "\t" + std::to_string(s.ttl) + "\tIN\t" +
                          wire::type_name(s.type) + "\t" + r);
        }
    }
    for (const auto& e : o.ede) {
        out.push_back(";; EDE " + std::to_string(e.code) + (e.text.empty() ? "" : ": " + e.text));
    }
    return out;
}

std::string render_table(const MatrixReport& r, bool color) {
    const Palette c{color};
    std::ostringstream out;
    for (const auto& q : r.questions) {
        const auto& cmp = q.comparison;
        const std::string verdict = cmp.verdict == "agree" ? c.good("agree") : c.bad(cmp.verdict);
        out << c.bold(";; " + q.question.name + " " + wire::type_name(q.question.type)) << "  "
            << verdict;
        if (!cmp.verdict_detail.empty()) {
            out << " - " << cmp.verdict_detail;
        }
        out << "\n";
        for (std::size_t ci = 0; ci < cmp.classes.size(); ++ci) {
            const auto& cls = cmp.classes[ci];
            std::string members;
            for (auto m : cls.members) {
                members += (members.empty() ? "" : ", ") + q.observations[m].target;
            }
            out << "  class " << ci + 1;
            if (!cls.labels.empty()) {
                std::string l;
                for (const auto& x : cls.labels) {
                    l += (l.empty() ? "" : ",") + x;
                }
                out << " " << c.warn("[" + l + "]");
            }
            out << ": " << members << "\n";
            for (const auto& line : record_lines(q.observations[cls.members.front()])) {
                out << "    " << line << "\n";
            }
            if (ci > 0) {
                const auto& d = cmp.differences[ci - 1];
                out << "    " << c.warn("first difference vs class 1: " + d.field) << ": " << d.a
                    << "  |  " << d.b << "\n";
            }
        }
        for (const auto& n : cmp.notes) {
            out << "  note: " << n << "\n";
        }
        for (const auto& n : q.instability) {
            out << "  " << c.warn("unstable: ") << n << "\n";
        }
        out << "  latency ms (" << r.repeat << (r.repeat == 1 ? " pass" : " passes, pass 1 cold")
            << ")   connect  query  p50  p95  max\n";
        for (std::size_t ti = 0; ti < q.observations.size(); ++ti) {
            const auto& lat = q.latency[ti];
            char line[256];
            std::snprintf(line, sizeof line, "    %-28s %7s %6s %5s %5s %5s\n",
                          q.observations[ti].target.c_str(),
                          lat.connect_ms.empty() ? "-" : fmt_ms(lat.connect_ms.front()).c_str(),
                          lat.query_ms.empty() ? "-" : fmt_ms(lat.query_ms.front()).c_str(),
                          fmt_ms(lat.p50).c_str(), fmt_ms(lat.p95).c_str(),
                          fmt_ms(lat.max).c_str());
            out << line;
        }
        out << "\n";
    }
    return out.str();
}

json observation_json(const compare::Observation& o) {
    json j = {{"target", o.target}, {"transport", o.transport}};
    j["error"] = o.error ? json(*o.error) : json(nullptr);
    if (o.doh) {
        j["http"] = {{"status", o.http_status},
                     {"content_type", o.content_type},
                     {"content_type_ok", o.content_type_ok}};
    }
    if (!o.answered) {
        return j;
    }
    j["rcode"] = wire::rcode_name(o.rcode);
    json flags = json::object();
    const std::pair<const char*, std::optional<bool>> bits[] = {
        {"aa", o.flags.aa}, {"tc", o.flags.tc}, {"rd", o.flags.rd},
        {"ra", o.flags.ra}, {"ad", o.flags.ad}, {"cd", o.flags.cd}};
    for (const auto& [n, v] : bits) {
        flags[n] = v ? json(*v) : json(nullptr);
    }
    j["flags"] = flags;
    j["question"] = {{"name", o.qname_raw}, {"type", wire::type_name(o.qtype)}};
    j["answer"] = rrsets_json(o.answer);
    j["authority"] = rrsets_json(o.authority);
    j["additional"] = rrsets_json(o.additional);
    json ede = json::array();
    for (const auto& e : o.ede) {
        ede.push_back({{"code", e.code}, {"text", e.text}});
    }
    j["ede"] = ede;
    j["edns"] = o.edns ? (*o.edns ? json{{"udp_size", o.udp_size}} : json(false)) : json(nullptr);
    return j;
}

json to_json(const MatrixReport& r) {
    json doc = {{"schema", "dnslab.probe.v1"}, {"repeat", r.repeat}};
    json targets = json::array();
    for (const auto& t : r.targets) {
        targets.push_back(
            {{"name", t.name}, {"url", t.url.to_string()}, {"transport", t.transport}});
    }
    doc["targets"] = targets;
    json questions = json::array();
    std::size_t agree = 0, differ = 0, failed = 0;
    for (const auto& q : r.questions) {
        const auto& cmp = q.comparison;
        (cmp.verdict == "agree" ? agree : cmp.verdict == "differ" ? differ : failed)++;
        json jq = {{"name", q.question.name}, {"type", wire::type_name(q.question.type)},
                   {"verdict", cmp.verdict},  {"verdict_detail", cmp.verdict_detail},
                   {"notes", cmp.notes},      {"instability", q.instability}};
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
            json jr = observation_json(q.observations[ti]);
            jr["labels"] =
                compare::sinkhole_labels(q.observations[ti], q.question.type, q.observations);
            const auto& lat = q.latency[ti];
            jr["latency"] = {{"connect_ms", lat.connect_ms},
                             {"query_ms", lat.query_ms},
                             {"reused_connection", lat.reused},
                             {"p50_ms", lat.p50},
                             {"p95_ms", lat.p95},
                             {"max_ms", lat.max}};
            results.push_back(jr);
        }
        jq["results"] = results;
        questions.push_back(jq);
    }
    doc["questions"] = questions;
    doc["summary"] = {{"questions", r.questions.size()},
                      {"agree", agree},
                      {"differ", differ},
                      {"all_failed", failed}};
    doc["exit_code"] = r.all_agree() ? 0 : 1;
    return doc;
}

std::string to_junit(const MatrixReport& r) {
    std::size_t failures = 0;
    std::ostringstream cases;
    for (const auto& q : r.questions) {
        const std::string name = q.question.name + " " + wire::type_name(q.question.type);
        cases << "  <testcase classname=\"dnslab-probe.matrix\" name=\"" << xml_escape(name)
              << "\">\n";
        if (q.comparison.verdict != "agree") {
            ++failures;
            std::string msg = q.comparison.verdict;
            if (!q.comparison.differences.empty()) {
                msg += ": first difference " + q.comparison.differences.front().field;
            }
            cases << "    <failure message=\"" << xml_escape(msg) << "\">"
                  << xml_escape(q.comparison.verdict_detail) << "</failure>\n";
        }
        cases << "  </testcase>\n";
    }
    std::ostringstream out;
    out << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuite name=\"dnslab-probe\" tests=\""
        << r.questions.size() << "\" failures=\"" << failures << "\">\n"
        << cases.str() << "</testsuite>\n";
    return out.str();
}

} // namespace probes::matrix
