// SPDX-License-Identifier: MIT
// What Gateway accepts and open-source wirefilter or the lab's tables did not (issue 17):
// `\.` / `\|` in strings (and [behaviour] wirefilter_strict_escapes), list references without
// hyphens, category IDs the table lacks (rules and data), `time_zone` with spaces, and the
// continent spellings ([behaviour] continent_values). Each warning names the rule and field
// (or the file and line) and reaches PolicySet::warnings, which start-up, the policy events
// and `explain` render.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "resolver/policy/behaviour.hpp"
#include "resolver/policy/evaluate.hpp"
#include "resolver/policy/explain.hpp"
#include "resolver/policy/expr.hpp"
#include "resolver/policy/load.hpp"

using namespace resolver::policy;
namespace net = resolver::net;
namespace wire = resolver::wire;

namespace {

/// One block rule `id` per traffic expression, loaded with `texts` (locations added).
resolver::Result<PolicySetPtr>
load_rules(const std::vector<std::pair<std::string, std::string>>& rules, PolicyTexts t = {}) {
    nlohmann::json arr = nlohmann::json::array();
    int precedence = 0;
    for (const auto& [id, traffic] : rules) {
        arr.push_back({{"id", id},
                       {"name", "Rule " + id},
                       {"precedence", ++precedence},
                       {"action", "block"},
                       {"filters", {"dns"}},
                       {"traffic", traffic}});
    }
    t.rules = arr.dump();
    if (t.locations.empty()) {
        t.locations = R"j([{"id":"loc","name":"L"}])j";
    }
    return load_policy_texts(t);
}

std::string decided_by(const PolicySet& set, std::string_view name, const Behaviour& b = {},
                       const char* src = "192.0.2.1") {
    QueryFacts q;
    q.qname = name;
    q.qtype = wire::rrtype::A;
    q.location = &set.locations.locations[0];
    q.src_ip = net::IpAddr::parse(src);
    Evaluation ev = evaluate_pre(set, q, b, EvalOptions{0, true});
    return ev.rule != nullptr ? ev.rule->id : "";
}

bool has_line(const PolicySet& set, std::initializer_list<std::string_view> needles) {
    for (const auto& w : set.warnings) {
        bool all = true;
        for (auto n : needles) {
            all = all && w.find(n) != std::string::npos;
        }
        if (all) {
            return true;
        }
    }
    return false;
}

std::string str_value(const CompileResult& r) {
    REQUIRE(r);
    REQUIRE(r.expr->root() != nullptr);
    REQUIRE(r.expr->root()->cmp != nullptr);
    return r.expr->root()->cmp->str_value;
}

const ListLookup kNoLists = [](std::string_view) -> const PolicyList* { return nullptr; };

} // namespace

TEST_SUITE_BEGIN("policy.export-leniency");

TEST_CASE(
    "\\. and \\| mean the literal character: kept for RE2 in matches, the character elsewhere") {
    // A `matches` pattern keeps the escape, so RE2 reads a literal dot / pipe.
    CHECK(str_value(compile_expr(R"(dns.fqdn matches "a\.b")", kNoLists)) == R"(a\.b)");
    CHECK(str_value(compile_expr(R"(dns.fqdn matches "a\|b")", kNoLists)) == R"(a\|b)");
    // The same pattern as wirefilter's own `\\.` spelling.
    CHECK(str_value(compile_expr(R"(dns.fqdn matches "a\\.b")", kNoLists)) == R"(a\.b)");
    // Every other operator gets the character itself.
    CHECK(str_value(compile_expr(R"(dns.fqdn == "a\.b")", kNoLists)) == "a.b");
    CHECK(str_value(compile_expr(R"(dns.fqdn contains "a\|b")", kNoLists)) == "a|b");
    CHECK(str_value(compile_expr(R"(dns.fqdn wildcard "*\.example\.com")", kNoLists)) ==
          "*.example.com");
    // Other unknown escapes stay errors, naming what a string knows.
    auto q = compile_expr(R"(dns.fqdn == "\q")", kNoLists);
    REQUIRE_FALSE(q);
    CHECK(q.error.column == 14);
    CHECK(q.error.message.find("\\. and \\|") != std::string::npos);

    auto set = load_rules({{"dot", R"(dns.fqdn matches "^www\.example\.com$")"},
                           {"pipe", R"(any(dns.domains[*] matches "^(a\|b)$"))"},
                           {"eq", R"(dns.fqdn == "host\.example")"}});
    REQUIRE_MESSAGE(set, (set ? "" : set.error().detail));
    // `\|` in a pattern: one warning, naming the rule and the column of the escape.
    REQUIRE((*set)->warnings.size() == 1);
    CHECK((*set)->warnings[0].find("rule pipe") != std::string::npos);
    CHECK((*set)->warnings[0].find("traffic column 32: '\\|' in a matches pattern is a "
                                   "literal '|'") != std::string::npos);
    CHECK(decided_by(**set, "www.example.com") == "dot");
    CHECK(decided_by(**set, "wwwxexample.com") == ""); // the dot is literal
    CHECK(decided_by(**set, "a|b") == "pipe");
    CHECK(decided_by(**set, "a") == ""); // no alternation
    CHECK(decided_by(**set, "host.example") == "eq");
}

TEST_CASE("wirefilter_strict_escapes refuses \\. and \\| naming the rule, field and column") {
    ExprOptions strict;
    strict.strict_escapes = true;
    auto c = compile_expr(R"(dns.fqdn matches "a\.b")", kNoLists, strict);
    REQUIRE_FALSE(c);
    CHECK(c.error.column == 20);
    CHECK(c.error.message.find("wirefilter_strict_escapes") != std::string::npos);
    CHECK(compile_expr(R"(dns.fqdn matches "a\\.b")", kNoLists, strict)); // wirefilter's own

    // Through [behaviour], as the resolver and `explain` load it.
    auto b = parse_behaviour_toml("[behaviour]\nwirefilter_strict_escapes = true\n");
    REQUIRE(b);
    PolicyTexts t;
    t.expressions = b->expression_options();
    auto set = load_rules({{"esc", R"(dns.fqdn matches "a\|b")"}, {"ok", R"(dns.fqdn == "x")"}}, t);
    REQUIRE(set);
    REQUIRE((*set)->skipped_rules.size() == 1);
    const SkippedRule& s = (*set)->skipped_rules[0];
    CHECK(s.id == "esc");
    CHECK(s.field == "traffic");
    CHECK(s.column == 20);
    CHECK(s.reason.find("invalid escape '\\|'") != std::string::npos);
    CHECK((*set)->dns_rules.size() == 1);
    // The default reads it.
    auto lenient = load_rules({{"esc", R"(dns.fqdn matches "a\|b")"}});
    REQUIRE(lenient);
    CHECK((*lenient)->skipped_rules.empty());
}

TEST_CASE("list references without hyphens name the UUID's list") {
    PolicyTexts t;
    t.lists = R"j([{"id":"22509276-1c53-4a46-933a-9ff5e5e7b2ec","name":"IPs","type":"IP",
                    "items":[{"value":"93.184.216.34"}]},
                   {"id":"0b5a2c1d-3e4f-4a5b-8c6d-7e8f9a0b1c2d","name":"Hosts","type":"DOMAIN",
                    "items":[{"value":"bad.example"}]}])j";
    auto set =
        load_rules({{"nohyphens", "any(dns.domains[*] in $0b5a2c1d3e4f4a5b8c6d7e8f9a0b1c2d)"},
                    {"upper", "dns.fqdn in $0B5A2C1D3E4F4A5B8C6D7E8F9A0B1C2D"},
                    {"ips", "any(dns.resolved_ips[*] in $225092761c534a46933a9ff5e5e7b2ec)"},
                    {"missing", "dns.fqdn in $ffffffffffffffffffffffffffffffff"},
                    {"short", "dns.fqdn in $0b5a2c1d3e4f4a5b8c6d7e8f9a0b1c2"}},
                   t);
    REQUIRE_MESSAGE(set, (set ? "" : set.error().detail));
    const PolicySet& s = **set;
    REQUIRE(s.dns_rules.size() == 3);
    CHECK(s.dns_rules[0].traffic.root()->kids[0]->cmp->list ==
          s.find_list("0b5a2c1d-3e4f-4a5b-8c6d-7e8f9a0b1c2d"));
    CHECK(s.dns_rules[2].traffic.root()->kids[0]->cmp->list ==
          s.find_list("22509276-1c53-4a46-933a-9ff5e5e7b2ec"));
    CHECK(decided_by(s, "www.bad.example") == "nohyphens");
    REQUIRE(s.skipped_rules.size() == 2);
    // The error still names the reference as written, and the UUID it was read as.
    CHECK(s.skipped_rules[0].id == "missing");
    CHECK(s.skipped_rules[0].reason.find("unknown list '$ffffffffffffffffffffffffffffffff' (nor "
                                         "list ffffffff-ffff-ffff-ffff-ffffffffffff)") !=
          std::string::npos);
    // Only 32 hex digits map.
    CHECK(s.skipped_rules[1].id == "short");
    CHECK(s.skipped_rules[1].reason.find("unknown list '$0b5a2c1d3e4f4a5b8c6d7e8f9a0b1c2'") !=
          std::string::npos);
    CHECK(s.skipped_rules[1].reason.find("nor list") == std::string::npos);
}

TEST_CASE("category IDs the table lacks: rules load with a warning and match the data's IDs") {
    PolicyTexts t;
    t.categories = "domain,categories\nnew.example,180\nboth.example,33 179\nads.example,1\n"
                   "more.example,180\n";
    auto set = load_rules({{"content", "any(dns.content_category[*] in {33 180})"},
                           {"security", "any(dns.security_category[*] in {179})"},
                           {"single", "any(dns.content_category[*] == 179)"},
                           {"range", "any(dns.content_category[*] in {1..255})"}},
                          t);
    REQUIRE_MESSAGE(set, (set ? "" : set.error().detail));
    const PolicySet& s = **set;
    CHECK(s.skipped_rules.empty());
    CHECK(s.dns_rules.size() == 4);
    // Rules: one line per comparison, naming the rule, the field and the first ID's column.
    CHECK(has_line(s, {"rules: rule content (\"Rule content\"): traffic column 33: category IDs "
                       "33, 180 are not in the lab's category table"}));
    CHECK(has_line(s, {"rule security (", "traffic column 34: category ID 179 is not"}));
    CHECK(has_line(s, {"rule single (", "traffic column 32: category ID 179 is not"}));
    CHECK_FALSE(has_line(s, {"rule range ("})); // a range's gaps are not checked
    // Data: one line per ID, naming the file and the first line that has it.
    CHECK(has_line(s, {"categories: line 2: category ID 180 is not in the category table (2 "
                       "row(s)); kept"}));
    CHECK(has_line(s, {"categories: line 3: category ID 33 ", "(1 row(s))"}));
    CHECK(has_line(s, {"categories: line 3: category ID 179 "}));
    CHECK(s.warnings.size() == 6);
    // Matched where the data has them, in either field (the lab cannot tell the kind).
    CHECK(s.categories.lookup("new.example") == std::vector<std::int64_t>{180});
    CHECK(decided_by(s, "new.example") == "content");
    CHECK(decided_by(s, "both.example") == "content");
    CHECK(decided_by(s, "ads.example") == "range");
    CHECK(s.categories.name_of(180).empty()); // the log's *CategoryNames entry: ""
    CHECK_FALSE(s.categories.known(180));
    CHECK(s.categories.known(117));

    // Named by --category-ids, they are known: no warning, the name reaches the log.
    PolicyTexts named = t;
    named.category_ids = "id,name,parent\n180,Lab 180,0\n33,Lab 33,0\n179,Lab 179,0\n1,Ads,0\n";
    auto known = load_rules({{"content", "any(dns.content_category[*] in {33 180})"}}, named);
    REQUIRE(known);
    CHECK((*known)->warnings.empty());
    CHECK((*known)->categories.name_of(180) == "Lab 180");
}

TEST_CASE("a time_zone with a space is read as the tz name, with a warning naming the rule") {
    auto load = [](const char* tz) {
        PolicyTexts t;
        nlohmann::json rule = {{"id", "sched"},
                               {"name", "Working hours"},
                               {"action", "block"},
                               {"filters", {"dns"}},
                               {"traffic", R"(dns.fqdn == "x.example")"},
                               {"schedule", {{"mon", "08:00-12:30"}, {"time_zone", tz}}}};
        t.rules = nlohmann::json::array({rule}).dump();
        t.locations = R"j([{"id":"loc","name":"L"}])j";
        return load_policy_texts(t);
    };
    // The Terraform provider's own example (examples/resources/
    // cloudflare_zero_trust_gateway_policy/resource.tf) writes "America/New York".
    auto set = load("America/New York");
    REQUIRE_MESSAGE(set, (set ? "" : set.error().detail));
    REQUIRE((*set)->dns_rules.size() == 1);
    const Rule& r = (*set)->dns_rules[0];
    REQUIRE(r.schedule);
    CHECK(r.schedule->time_zone == "America/New_York");
    REQUIRE((*set)->warnings.size() == 1);
    CHECK((*set)->warnings[0] ==
          "rules: rule sched (\"Working hours\"): schedule.time_zone: \"America/New York\" is not "
          "a tz database name; read as \"America/New_York\"");
    // Monday 2025-01-06 10:00 in New York is 15:00 UTC (EST): inside the schedule.
    CHECK(r.schedule->active_at(1736175600));
    CHECK_FALSE(r.schedule->active_at(1736175600 - 5 * 3600)); // 05:00 New York
    // No such zone with underscores either: the rule is skipped as before.
    auto bad = load("Mars/Olympus Mons");
    REQUIRE(bad);
    REQUIRE((*bad)->skipped_rules.size() == 1);
    CHECK((*bad)->skipped_rules[0].field == "schedule.time_zone");
    CHECK((*bad)->skipped_rules[0].reason == "unknown time zone 'Mars/Olympus Mons'");
    CHECK(TimeZone::underscored("Europe/Paris").empty());
}

TEST_CASE("continent_values: code, name or both, in the rules and in the facts") {
    struct Row {
        ContinentValues mode;
        const char* expr;
        bool matches_na; // a query from 192.0.2.1 (geo: US, NA)
        const char* warning;
    };
    const Row rows[] = {
        {ContinentValues::Both, R"(dns.src.geo.continent == "North America")", true, nullptr},
        {ContinentValues::Both, R"(dns.src.geo.continent == "NA")", true, nullptr},
        {ContinentValues::Both, R"(dns.src.geo.continent in {"Europe" "North America"})", true,
         nullptr},
        {ContinentValues::Both, R"(dns.src.geo.continent != "North America")", false, nullptr},
        {ContinentValues::Both, R"(dns.src.geo.continent == "Europe")", false, nullptr},
        {ContinentValues::Code, R"(dns.src.geo.continent == "NA")", true, nullptr},
        {ContinentValues::Code, R"(dns.src.geo.continent == "North America")", false,
         "continent_values = \"code\" dns.src.geo.continent holds codes (NA)"},
        {ContinentValues::Name, R"(dns.src.geo.continent == "North America")", true, nullptr},
        {ContinentValues::Name, R"(dns.src.geo.continent matches "^North")", true, nullptr},
        {ContinentValues::Name, R"(dns.src.geo.continent == "NA")", false,
         "continent_values = \"name\" dns.src.geo.continent holds names (\"North America\")"},
        {ContinentValues::Both, R"(dns.src.geo.continent == "Nordamerika")", false,
         "neither a continent code"},
    };
    for (const auto& row : rows) {
        CAPTURE(row.expr);
        CAPTURE(static_cast<int>(row.mode));
        Behaviour b;
        b.continent_values = row.mode;
        PolicyTexts t;
        t.geo = "cidr,country,continent\n192.0.2.0/24,US,NA\n198.51.100.0/24,DE,EU\n";
        t.expressions = b.expression_options();
        auto set = load_rules({{"cont", row.expr}}, t);
        REQUIRE(set);
        REQUIRE((*set)->dns_rules.size() == 1);
        CHECK((decided_by(**set, "x.example", b) == "cont") == row.matches_na);
        if (row.warning != nullptr) {
            CHECK(has_line(**set, {"rule cont (", "traffic column ", row.warning}));
        } else {
            CHECK((*set)->warnings.empty());
        }
    }
    // The resolved-IP side reads the same setting.
    Behaviour names;
    names.continent_values = ContinentValues::Name;
    PolicyTexts t;
    t.geo = "cidr,country,continent\n198.51.100.0/24,DE,EU\n";
    t.expressions = names.expression_options();
    auto set = load_rules({{"dst", R"(any(dns.dst.geo.continent[*] == "Europe"))"}}, t);
    REQUIRE(set);
    QueryFacts q;
    q.qname = "x.example";
    q.location = &(*set)->locations.locations[0];
    ResponseFacts resp;
    resp.resolved_ips.push_back(*net::IpAddr::parse("198.51.100.7"));
    Evaluation ev = evaluate_pre(**set, q, names, EvalOptions{});
    evaluate_post(**set, q, resp, names, EvalOptions{}, ev);
    REQUIRE(ev.rule != nullptr);
    CHECK(ev.rule->id == "dst");
    Evaluation codes = evaluate_pre(**set, q, Behaviour{}, EvalOptions{});
    evaluate_post(**set, q, resp, Behaviour{}, EvalOptions{}, codes);
    CHECK(codes.rule == nullptr); // the same rule under "both": the field holds EU
}

TEST_CASE("[behaviour] reads and records the two new settings") {
    auto b = parse_behaviour_toml("wirefilter_strict_escapes = true\ncontinent_values = \"name\"");
    REQUIRE(b);
    CHECK(b->wirefilter_strict_escapes);
    CHECK(b->continent_values == ContinentValues::Name);
    CHECK(b->expression_options().strict_escapes);
    CHECK(b->expression_options().continent_values == ContinentValues::Name);
    auto j = nlohmann::json::parse(b->to_json());
    CHECK(j["wirefilter_strict_escapes"] == true);
    CHECK(j["continent_values"] == "name");
    Behaviour d;
    CHECK_FALSE(d.wirefilter_strict_escapes);
    CHECK(d.continent_values == ContinentValues::Both);
    for (const char* bad : {"continent_values = \"codes\"", "continent_values = 1",
                            "continent_values = \"\"", "wirefilter_strict_escapes = \"yes\""}) {
        CAPTURE(bad);
        auto r = parse_behaviour_toml(bad);
        REQUIRE_FALSE(r);
        CHECK(r.error().detail.find(std::string(bad).substr(0, 14)) != std::string::npos);
    }
}

TEST_CASE("the new warnings are explain's loader warnings, in text and JSON") {
    PolicyTexts t;
    t.categories = "domain,categories\nnew.example,180\n";
    auto set = load_rules({{"content", "any(dns.content_category[*] in {180})"}}, t);
    REQUIRE(set);
    REQUIRE((*set)->warnings.size() == 2);
    QueryFacts q;
    q.qname = "new.example";
    q.location = &(*set)->locations.locations[0];
    Behaviour b;
    Evaluation ev = evaluate_pre(**set, q, b, EvalOptions{0, true});
    ExplainInput in;
    in.query = &q;
    in.ev = &ev;
    in.behaviour = &b;
    in.warnings = &(*set)->warnings;
    const std::string text = render_explain_text(in);
    CHECK(text.find("loader warnings") != std::string::npos);
    CHECK(text.find("category ID 180 is not in the lab's category table") != std::string::npos);
    auto j = nlohmann::json::parse(render_explain_json(in));
    REQUIRE(j["warnings"].size() == 2);
    CHECK(j["warnings"][0].get<std::string>().find("categories: line 2: category ID 180") == 0);
    CHECK(j["skipped_rules"].empty());
}

TEST_SUITE_END();
