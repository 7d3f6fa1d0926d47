// SPDX-License-Identifier: MIT
#pragma once
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "probes/compare/observation.hpp"

namespace probes::compare {

/// What to compare and how strictly. Field names are those reported in Difference::field
/// and accepted by `--ignore` (a prefix ignores the whole group: "flags" covers "flags.aa").
struct CompareOptions {
    /// TTL differences up to this many seconds are treated as equal (in-flight time, clock
    /// granularity between caches).
    std::uint32_t ttl_tolerance = 5;
    /// When false (default), a larger TTL gap with equal data is explained as cache ageing
    /// and reported as a note; when true it is a difference in field "answer.ttl" (use it to
    /// test TTL caps such as Gateway's max_ttl).
    bool ttl_strict = false;
    std::set<std::string> ignore;
    /// When true (`--strict`), every field is a difference, as `first_difference` orders
    /// them; when false, fields an application does not see (is_cosmetic) only make two
    /// answers "equivalent" and are reported as notes.
    bool strict = false;

    [[nodiscard]] bool ignored(const std::string& field) const;
};

/// A field in which two observations differ. Reporting order: http.status,
/// http.content_type, error, answered, opcode, rcode, question, flags.tc, answer, flags.aa,
/// flags.rd, flags.ra, flags.ad, flags.cd, authority, additional, ede, ede.text, edns,
/// edns.udp_size, answer.ttl, authority.ttl. A truncated answer (TC) is not compared
/// record by record: its sections were cut.
struct Difference {
    std::string field;
    std::string a; // the value in the first observation, as text
    std::string b;
};

/// Every field in which two observations differ under `opts` (ignored fields left out), in
/// reporting order. Fields one side cannot express (AA, opcode and EDNS in DoH JSON; HTTP
/// fields for non-DoH targets) are skipped.
std::vector<Difference> differences(const Observation& a, const Observation& b,
                                    const CompareOptions& opts);

/// The first of `differences`, field by field (what `--strict` compares); nullopt when none.
std::optional<Difference> first_difference(const Observation& a, const Observation& b,
                                           const CompareOptions& opts);

/// Fields that do not change the answer an application gets: flags.aa, flags.rd, flags.ra,
/// flags.cd, authority, additional, ede.text, edns, edns.udp_size, authority.ttl.
bool is_cosmetic(const std::string& field);

/// The first difference that makes two answers differ: any field with `opts.strict`, else
/// the first that is not cosmetic (rcode, answer, EDE codes, TC, AD, HTTP status, ...).
std::optional<Difference> essential_difference(const Observation& a, const Observation& b,
                                               const CompareOptions& opts);

/// Everything worth saying about a pair that does not make them differ: cache-aged TTLs,
/// question case changes (0x20), different NSIDs.
std::vector<std::string> notes(const Observation& a, const Observation& b,
                               const CompareOptions& opts);

/// The question the observations answered, to judge whether an answer looks like a block.
struct Expectation {
    std::uint16_t qtype = 1;
};

/// Block-like shapes of an answer, so "blocked upstream" and "blocked here" can be told apart:
///   "sinkhole"   A 0.0.0.0 / AAAA :: only (Gateway block, block page off)
///   "blockpage"  A in Gateway's block page IPs 162.159.36.12 / 162.159.46.12
///   "refused"    REFUSED (Gateway's block for other types, and its older A/AAAA behaviour);
///                REFUSED with EDE 20 (Not Authoritative) is "not-authoritative" instead
///   "truncated"  TC set: the answer was cut to fit UDP
///   "ede-blocked", "ede-censored", "ede-filtered"   RFC 8914 EDE 15 / 16 / 17
///   "nxdomain"   NXDOMAIN while another target in `others` answered NOERROR with data
/// "truncated" and "not-authoritative" describe the answer but are not blocks (is_block_label).
std::vector<std::string> sinkhole_labels(const Observation& o, std::uint16_t qtype,
                                         const std::vector<Observation>& others = {});

/// False for the labels that describe an answer without calling it a block.
bool is_block_label(const std::string& label);
/// True when `labels` (from sinkhole_labels) contains any block label.
bool is_block(const std::vector<std::string>& labels);

/// Targets that gave the same answer. `members` index the input vector.
struct AgreementClass {
    std::vector<std::size_t> members;
    std::vector<std::string> labels; // sinkhole labels of the representative (first member)
};

/// One question's comparison.
struct Comparison {
    std::vector<AgreementClass> classes; // largest first, then first-seen order
    /// How the first class differs from each later one (index i-1 for class i): its first
    /// essential difference.
    std::vector<Difference> differences;
    /// Cosmetic differences inside classes, cache-aged TTLs, 0x20 case, NSIDs.
    std::vector<std::string> notes;
    /// "identical": one class, nothing differs; "equivalent": one class, only cosmetic fields
    /// or cache-aged TTLs differ (see notes); "differ": several classes; "all-failed".
    std::string level;
    /// The v1 verdict: "agree" (identical or equivalent), "differ" or "all-failed".
    std::string verdict;
    /// One human sentence: which targets look blocked and what the others got, e.g.
    /// "blocked (sinkhole) by lab-udp, lab-tcp; answered by unbound; SERVFAIL from dnsdist".
    /// "answered by" names only targets that returned data. Empty when there is one class and
    /// no block.
    std::string verdict_detail;
};

/// Groups observations into agreement classes (greedy: each observation joins the first
/// class whose representative it has no essential difference with), sorts them largest
/// first and names the level and verdict.
Comparison compare_all(const std::vector<Observation>& obs, std::uint16_t qtype,
                       const CompareOptions& opts);

} // namespace probes::compare
