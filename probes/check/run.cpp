// SPDX-License-Identifier: MIT
#include "probes/check/run.hpp"

#include <algorithm>
#include <random>
#include <sstream>

#include "probes/matrix/report.hpp"
#include "probes/matrix/run.hpp"
#include "resolver/wire/message.hpp"

namespace probes::check {
namespace wire = resolver::wire;
using nlohmann::json;

bool CheckReport::all_pass() const {
    return !results.empty() && std::all_of(results.begin(), results.end(),
                                           [](const CaseResult& r) { return r.failures.empty(); });
}

bool case_selects(const Case& c, const common::Target& t) {
    return c.transports.empty() ||
           std::find_if(c.transports.begin(), c.transports.end(), [&](const std::string& x) {
               return x == t.transport || x == t.name || (x == "https" && t.url.scheme == "https");
           }) != c.transports.end();
}

common::Target target_for_case(const common::Target& t, const Case& c) {
    common::Target out = t;
    const bool tls = t.url.scheme == "tls" || t.url.scheme == "https";
    if (tls && !c.sni.empty()) {
        out.url.params["sni"] = c.sni;
    }
    if (t.url.scheme == "https") {
        if (!c.doh_path.empty()) {
            out.url.path = c.doh_path;
        }
        for (const auto& [k, v] : c.headers) {
            out.url.params["header." + k] = v;
        }
        if (!c.location.empty()) {
            // Gateway's generic DoH endpoint takes the location in this header.
            out.url.params.try_emplace("header.cf-dns-location", c.location);
        }
    }
    return out;
}

CheckReport run_check(matrix::Engine& engine, const std::vector<common::Target>& targets,
                      const std::vector<Case>& cases, const common::QueryOptions& base,
                      common::PcapWriter* pcap) {
    CheckReport report;
    report.cases = cases;
    std::random_device seed;
    std::mt19937 rng(seed());
    std::uniform_int_distribution<unsigned> ids(0, 0xFFFF);
    std::vector<matrix::Job> jobs;
    std::vector<common::Target> job_targets;
    std::vector<std::size_t> job_target_index;
    for (std::size_t ci = 0; ci < cases.size(); ++ci) {
        const auto& c = cases[ci];
        bool any = false;
        for (std::size_t ti = 0; ti < targets.size(); ++ti) {
            if (!case_selects(c, targets[ti])) {
                continue;
            }
            any = true;
            auto t = target_for_case(targets[ti], c);
            auto qopts = base;
            if (t.url.scheme != "https" && !c.location.empty()) {
                qopts.location = c.location; // EDNS 65011 on Do53 and DoT
            }
            auto q = common::build_query({c.qname, c.qtype}, qopts,
                                         static_cast<std::uint16_t>(ids(rng)));
            jobs.push_back(
                matrix::Job{t.url, q ? std::move(q).value() : std::vector<std::uint8_t>{}});
            job_targets.push_back(t);
            job_target_index.push_back(ti);
            report.results.push_back(CaseResult{ci, t.name, t.transport, {}, {}});
        }
        if (!any) {
            std::string list;
            for (const auto& x : c.transports) {
                list += (list.empty() ? "" : ", ") + x;
            }
            report.results.push_back(
                CaseResult{ci, "", "", {}, {"no target matches transports [" + list + "]"}});
        }
    }
    auto outcomes = engine.run(jobs);
    std::size_t j = 0;
    for (auto& r : report.results) {
        if (r.target.empty()) {
            continue;
        }
        matrix::record_pcap(pcap, job_target_index[j], job_targets[j], jobs[j].query, outcomes[j]);
        r.observation = matrix::observe(job_targets[j], outcomes[j]);
        r.failures = evaluate(cases[r.case_index], r.observation);
        ++j;
    }
    return report;
}

std::string render_check_table(const CheckReport& r, bool color) {
    auto paint = [&](const char* code, const std::string& s) {
        return color ? std::string("\033[") + code + "m" + s + "\033[0m" : s;
    };
    std::ostringstream out;
    std::size_t passed = 0;
    for (const auto& res : r.results) {
        const auto& c = r.cases[res.case_index];
        const bool ok = res.failures.empty();
        passed += ok ? 1 : 0;
        out << (ok ? paint("32", "PASS") : paint("31", "FAIL")) << "  " << c.id << "  ["
            << (res.target.empty() ? "-" : res.target) << "]";
        if (!c.outcome.empty()) {
            out << "  expect " << c.outcome;
        }
        out << "\n";
        for (const auto& f : res.failures) {
            out << "      " << f << "\n";
        }
        if (!ok && !res.target.empty()) {
            for (const auto& line : matrix::record_lines(res.observation)) {
                out << "      | " << line << "\n";
            }
        }
    }
    out << passed << " passed, " << r.results.size() - passed << " failed\n";
    return out.str();
}

json check_json(const CheckReport& r) {
    json results = json::array();
    std::size_t passed = 0;
    for (const auto& res : r.results) {
        const auto& c = r.cases[res.case_index];
        passed += res.failures.empty() ? 1 : 0;
        json jr = {{"case", c.id},
                   {"name", c.qname},
                   {"type", wire::type_name(c.qtype)},
                   {"target", res.target},
                   {"transport", res.transport},
                   {"expect", c.outcome},
                   {"pass", res.failures.empty()},
                   {"failures", res.failures}};
        if (!res.target.empty()) {
            jr["result"] = matrix::observation_json(res.observation);
            jr["labels"] = compare::sinkhole_labels(res.observation, c.qtype);
        }
        results.push_back(jr);
    }
    return {{"schema", "dnslab.probe.check.v1"},
            {"results", results},
            {"summary", {{"passed", passed}, {"failed", r.results.size() - passed}}},
            {"exit_code", r.all_pass() ? 0 : 1}};
}

std::string check_junit(const CheckReport& r) {
    std::ostringstream cases;
    std::size_t failures = 0;
    for (const auto& res : r.results) {
        const auto& c = r.cases[res.case_index];
        cases << "  <testcase classname=\"" << matrix::xml_escape(c.id) << "\" name=\""
              << matrix::xml_escape(res.target.empty() ? "(no target)" : res.target) << "\">\n";
        if (!res.failures.empty()) {
            ++failures;
            std::string all;
            for (const auto& f : res.failures) {
                all += f + "\n";
            }
            cases << "    <failure message=\"" << matrix::xml_escape(res.failures.front()) << "\">"
                  << matrix::xml_escape(all) << "</failure>\n";
        }
        cases << "  </testcase>\n";
    }
    std::ostringstream out;
    out << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuite name=\"dnslab-probe.check\" "
           "tests=\""
        << r.results.size() << "\" failures=\"" << failures << "\">\n"
        << cases.str() << "</testsuite>\n";
    return out.str();
}

} // namespace probes::check
