// SPDX-License-Identifier: MIT
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "resolver/attribution/attribute.hpp"
#include "resolver/policy/behaviour.hpp"
#include "resolver/policy/evaluate.hpp"
#include "resolver/policy/policy_set.hpp"
#include "resolver/wire/message.hpp"

namespace resolver::policy {

/// Everything one `dnslab-resolver explain` run shows. All pointers may be null except `ev`.
struct ExplainInput {
    const QueryFacts* query = nullptr;
    const attribution::LocationMatch* location = nullptr;
    const Evaluation* ev = nullptr; // evaluated with EvalOptions::trace = true
    const Behaviour* behaviour = nullptr;
    const wire::Message* upstream = nullptr; // the answer post-resolution rules saw, if any
    const wire::Message* answer = nullptr;   // the final answer sent to the client
    std::int64_t now = 0;
    const std::vector<std::string>* warnings = nullptr;      // what the loader skipped or ignored
    const std::vector<SkippedRule>* skipped = nullptr;       // the rules among them, field by field
    const std::vector<RuleWarning>* rule_warnings = nullptr; // warnings on rules that loaded
    std::string pending;        // why there is no answer yet (no upstream answer given)
    std::string response_hex;   // the response exactly as sent (hex)
    std::string log_record;     // the gateway_dns record the resolver would log (JSON)
    std::string upstream_error; // why the upstream gave no usable answer
    std::string note;           // what decode said about the query (FORMERR, NOTIMP, ...)
};

/// Human-readable trace: attribution, then per phase every rule with its verdict and reason,
/// the route, the decision (string and number), categories, and the answer in dig style.
std::string render_explain_text(const ExplainInput& in);
/// The same as one JSON object (schema "dnslab.explain.v1") for machines.
std::string render_explain_json(const ExplainInput& in);
/// Every loader warning as data, one object per line of `warnings` in its order, for explain
/// --json (`warning_details`), the policy events (`LabWarningDetails`) and `scenario run`:
///   {"warning": the line, "message": what is wrong, "skipped": the rule was skipped,
///    "other_filter": a rule of another Gateway filter, "file", "rule_id", "rule_name",
///    "field", "expression", "column" (1-based, 0 = not in an expression)}
/// A line about no rule (a list, a category) has its text as `message` and empty rule keys.
nlohmann::json warning_details(const std::vector<std::string>& warnings,
                               const std::vector<SkippedRule>* skipped,
                               const std::vector<RuleWarning>* rule_warnings);
inline nlohmann::json warning_details(const PolicySet& set) {
    return warning_details(set.warnings, &set.skipped_rules, &set.rule_warnings);
}

/// A message in dig-like presentation (header, flags, EDE, question and answer sections).
std::string format_message(const wire::Message& m);

} // namespace resolver::policy
