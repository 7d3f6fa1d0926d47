// SPDX-License-Identifier: MIT
#pragma once
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "probes/report/document.hpp"

namespace probes::selftest {

/// Schema name written into every report; fields are only ever added within v1
/// (docs/selftest.md, fixtures/selftest/report.schema.json).
inline constexpr const char* kSchema = "dnslab.selftest.v1";

/// How one check came out. Only `Fail` makes the self-test exit 1.
enum class Verdict {
    Pass,          // the check ran and what it looked at is as it should be
    Fail,          // the check ran and found a problem
    Warn,          // worth a look, but not necessarily wrong (e.g. transports disagree on a policy)
    Info,          // facts only, nothing to judge (local configuration, unjudged policy outcome)
    Skipped,       // not configured (e.g. no IPv6 endpoint given) or a prerequisite failed
    NotApplicable, // cannot mean anything in this profile (DNSSEC on the unsigned lab zones)
};

/// "pass", "fail", "warn", "info", "skipped", "not_applicable".
const char* verdict_name(Verdict v);
/// Inverse of verdict_name; false for unknown text.
bool verdict_from_name(const std::string& s, Verdict& out);

/// One line of the report: a stable id (`reachability.udp4`, `tls.dot`, ...), the group it
/// belongs to, a one-line title for humans, the verdict, a one-line reason, and
/// check-specific facts under `data` (documented per check in docs/selftest.md).
struct Check {
    Check() = default;
    Check(std::string id_, std::string category_, std::string title_, Verdict verdict_,
          std::string detail_, nlohmann::json data_ = nlohmann::json::object())
        : id(std::move(id_)), category(std::move(category_)), title(std::move(title_)),
          verdict(verdict_), detail(std::move(detail_)), data(std::move(data_)) {}

    std::string id;
    std::string category; // reachability, tls, interception, policy, features, local
    std::string title;
    Verdict verdict = Verdict::Info;
    std::string detail;
    nlohmann::json data = nlohmann::json::object();
    /// In words, for report.md and the terminal: the rcode(s) the check saw ("NOERROR",
    /// "REFUSED on udp4, tcp4") and the answer ("192.0.2.10", "40 TXT records"); "" when the
    /// check asked no DNS question.
    std::string rcode;
    std::string answer;
};

/// An endpoint the self-test talked to.
struct EndpointInfo {
    std::string id;        // udp4, tcp4, udp6, tcp6, dot, doh-h2, doh-h1
    std::string transport; // probe transport label: udp, tcp, tls, https-post
    std::string url;       // the URL as given to make_upstream
};

struct Report {
    std::string profile;      // "lab" or "gateway"
    std::string generated_at; // RFC 3339 UTC
    std::string tool_version;
    std::vector<EndpointInfo> endpoints;
    std::vector<Check> checks;
    nlohmann::json local = nlohmann::json::object(); // system facts (see local_info.hpp)
    double duration_ms = 0;

    /// 1 when any check failed, else 0 (2 is for "could not run" and never in a report).
    [[nodiscard]] int exit_code() const;
    [[nodiscard]] std::map<std::string, int> counts() const;
};

/// The report document (schema dnslab.selftest.v1).
nlohmann::json to_json(const Report& r, bool redacted);

/// The report for every format, from the report document (`to_json`, so a report read back
/// from disk renders the same). Brief (the terminal and summary.txt): one line per check,
/// verdict first. Full (report.md): facts, endpoints, a table of every check with its rcode,
/// answer and reason, every failed or warned check in words, the local configuration. Both
/// end with the counts and the verdict naming the failed checks.
report::Document to_document(const nlohmann::json& report);

/// Replaces each address in `addresses` (and the host name, when not empty) wherever it
/// appears in `text` with a stable placeholder: `<ipv4-1>`, `<ipv6-1>`, `<hostname>`.
/// Numbering follows the sorted address list, so the same set of addresses always gives the
/// same placeholders. Longer addresses are replaced first so that 10.0.0.1 never eats part of
/// 10.0.0.12; an address is only replaced where it is not part of a longer address.
std::string redact_text(const std::string& text, const std::vector<std::string>& addresses,
                        const std::string& hostname);

/// One difference between two reports, by check id.
struct DiffRow {
    std::string check;
    std::string before; // "pass: answered NOERROR in 0.4 ms", "(absent)", "issuer CN=a"
    std::string after;
    std::string line; // the same on one line: "tls.dot: pass -> fail (A: ...; B: ...)"
};

/// Compares two reports (by check id): checks that appeared, disappeared or changed verdict,
/// plus, for equal verdicts, changed TLS issuers, protocols, identities, classifications,
/// outcomes and UDP sizes.
std::vector<DiffRow> diff_rows(const nlohmann::json& a, const nlohmann::json& b);
/// diff_rows as one line per difference.
std::vector<std::string> diff_reports(const nlohmann::json& a, const nlohmann::json& b);

/// `selftest diff`: a table check / before / after (`--json`: dnslab.selftest.diff.v1).
report::Document diff_document(const nlohmann::json& a, const nlohmann::json& b,
                               const std::string& a_name, const std::string& b_name);

} // namespace probes::selftest
