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

    [[nodiscard]] bool ignored(const std::string& field) const;
};

/// The first field in which two observations differ, in reporting order:
/// error, http.status, http.content_type, opcode, rcode, question, answer, flags.<bit>,
/// authority, additional, ede, edns, edns.udp_size, answer.ttl.
struct Difference {
    std::string field;
    std::string a; // the value in the first observation, as text
    std::string b;
};

/// Compares two observations; nullopt when they agree under `opts`. Fields one side cannot
/// express (AA, opcode and EDNS in DoH JSON; HTTP fields for non-DoH targets) are skipped.
std::optional<Difference> first_difference(const Observation& a, const Observation& b,
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
///   "refused"    REFUSED (Gateway's block for other types, and its older A/AAAA behaviour)
///   "ede-blocked", "ede-censored", "ede-filtered"   RFC 8914 EDE 15 / 16 / 17
///   "nxdomain"   NXDOMAIN while another target in `others` answered NOERROR with data
/// An empty result means nothing block-like was seen.
std::vector<std::string> sinkhole_labels(const Observation& o, std::uint16_t qtype,
                                         const std::vector<Observation>& others = {});

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
    /// How the first class differs from each later one (index i-1 for class i).
    std::vector<Difference> differences;
    std::vector<std::string> notes;
    /// "agree": one class; "differ": several classes; "all-failed": every exchange failed.
    std::string verdict;
    /// One human sentence: which targets look blocked and how, e.g.
    /// "blocked (sinkhole) by lab-udp, lab-tcp; answered by unbound".
    std::string verdict_detail;
};

/// Groups observations into agreement classes (greedy: each observation joins the first
/// class whose representative it does not differ from) and names the verdict.
Comparison compare_all(const std::vector<Observation>& obs, std::uint16_t qtype,
                       const CompareOptions& opts);

} // namespace probes::compare
