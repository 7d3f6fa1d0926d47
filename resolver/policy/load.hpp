// SPDX-License-Identifier: MIT
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "resolver/core/result.hpp"
#include "resolver/policy/expr.hpp"
#include "resolver/policy/policy_set.hpp"

namespace resolver::policy {

/// Paths of the policy inputs (any may be empty = not given). Config keys under [policy]
/// and the `--rules/--lists/--locations/--categories/--geo/--mmdb/--identities` flags.
struct PolicyFiles {
    std::string rules;        // Cloudflare API export: JSON array or {"result": [...]} envelope
    std::string lists;        // lists export: array / envelope of {id, name, type, items[].value}
    std::string locations;    // locations export: array / envelope
    std::string categories;   // CSV domain,categories
    std::string category_ids; // CSV id,name,parent; "" = the compiled-in table (reference §6)
    std::string geo;          // CSV cidr,country,continent
    std::string mmdb;         // MaxMind DB (GeoLite2-Country or City)
    std::string identities;   // lab identity map JSON
    std::string applications; // lab application catalogue JSON (catalogues.hpp)
    std::string app_types;    // gateway-export's app_types.json: names over the catalogue's
    std::string indicator_feeds; // lab indicator feeds JSON (catalogues.hpp)
    std::string zoneinfo_dir = "/usr/share/zoneinfo";
    /// A larger input (or a FIFO or device that yields more) is refused before it is parsed:
    /// a million-name list export is about 50 MB.
    std::uintmax_t max_input_bytes = std::uintmax_t{512} << 20;
    /// How expressions are read ([behaviour], Behaviour::expression_options()).
    ExprOptions expressions;
};

/// The same inputs as text, for tests and for `explain` with inline data. Empty = not given.
struct PolicyTexts {
    std::string rules;
    std::string lists;
    std::string locations;
    std::string categories;
    std::string category_ids;
    std::string geo;
    std::string identities;
    std::string applications;
    std::string app_types;
    std::string indicator_feeds;
    std::string mmdb_path;
    std::string zoneinfo_dir = "/usr/share/zoneinfo";
    ExprOptions expressions; // as PolicyFiles::expressions
};

/// Reads and compiles every input into one immutable PolicySet. Runs off the query path
/// (startup, reload, explain); reads files, compiles regexes, loads time zones.
/// Errors (Errc::ConfigInvalid) name the file, and for rules the rule id, the field
/// (`traffic`/`identity`), the expression and the 1-based column:
///   rules.json: rule 6f1c… ("Block ads") traffic column 14: unknown field 'dns.fqnd'
///     in: dns.fqnd == "x"
/// Lists load before rules so `$<id>` references resolve at compile time.
/// Warnings (PolicySet::warnings) for what loads but deserves a look, one line each naming
/// the file and the rule and field (and column) or the line: category IDs the category table
/// lacks (in rules and in the category data), a `time_zone` written with spaces, continent
/// values that never match, besides the skipped rules.
Result<PolicySetPtr> load_policy(const PolicyFiles& files);
Result<PolicySetPtr> load_policy_texts(const PolicyTexts& texts);

/// Parses an RFC 3339 timestamp ("2025-01-02T03:04:05Z", fractional seconds and ±hh:mm
/// offsets accepted) to unix seconds.
std::optional<std::int64_t> parse_rfc3339(std::string_view s);

} // namespace resolver::policy
