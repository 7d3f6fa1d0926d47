// SPDX-License-Identifier: MIT
// Issue 17: what Gateway would refuse, or what is surely a mistake, is caught at load with a
// clear message: a lists export without its items, a `dns.location` ID the locations export
// does not have, and one export given where another is expected.
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "resolver/policy/explain.hpp"
#include "resolver/policy/export_json.hpp"
#include "resolver/policy/load.hpp"

using namespace resolver::policy;
using nlohmann::json;

namespace {

bool has(const std::string& text, const std::string& needle) {
    return text.find(needle) != std::string::npos;
}

// The whole refusal of a `kind` export given as the `slot` input, whose text is named `slot`:
// what it looks like, what was expected, and the flag to give it with. given_as("rules",
// "lists") is "rules looks like a Gateway lists export, expected a rules export (--rules); give
// it as --lists".
std::string given_as(const std::string& slot, const std::string& kind) {
    return slot + " looks like a Gateway " + kind + " export, expected a " + slot + " export (--" +
           slot + "); give it as --" + kind;
}

// A lists export as `GET /accounts/{id}/gateway/lists` returns it: `count`, no `items`
// (developers.cloudflare.com/api/resources/zero_trust/subresources/gateway/subresources/lists/
// methods/list/). One list has items, one is really empty.
constexpr const char* kListsWithoutItems = R"j({"success": true, "errors": [], "result": [
 {"id": "22509276-1c53-4a46-933a-9ff5e5e7b2ec", "name": "Blocked domains", "type": "DOMAIN",
  "count": 12, "description": "", "created_at": "2025-01-02T03:04:05Z"},
 {"id": "33333333-0000-4000-8000-000000000003", "name": "Allowed", "type": "DOMAIN",
  "items": [{"value": "ok.example"}], "count": 1},
 {"id": "44444444-0000-4000-8000-000000000004", "name": "Empty", "type": "IP", "count": 0},
 {"count": 3, "items": [], "id": "55555555-0000-4000-8000-000000000005", "name": "Hollow"}
]})j";

constexpr const char* kRulesOnLists = R"j([
 {"id": "r-block", "name": "Block listed", "filters": ["dns"], "action": "block",
  "precedence": 1, "traffic": "any(dns.domains[*] in $22509276-1c53-4a46-933a-9ff5e5e7b2ec)"},
 {"id": "r-allow", "name": "Allow listed", "filters": ["dns"], "action": "allow",
  "precedence": 2, "traffic": "dns.fqdn in $33333333-0000-4000-8000-000000000003"},
 {"id": "r-empty", "name": "Empty IP list", "filters": ["dns"], "action": "block",
  "precedence": 3, "traffic": "dns.src_ip in $44444444-0000-4000-8000-000000000004"},
 {"id": "r-hollow", "name": "Hollow", "filters": ["dns"], "action": "block", "precedence": 4,
  "traffic": "dns.fqdn == \"x.example\" or dns.fqdn in $55555555-0000-4000-8000-000000000005"}
])j";

constexpr const char* kLocations = R"j({"result": [
 {"id": "loc-hq", "name": "HQ", "client_default": false, "doh_subdomain": "hq1",
  "networks": [{"network": "192.0.2.0/24"}]},
 {"id": "loc-branch", "name": "Branch", "client_default": true, "doh_subdomain": "br1"}
]})j";

constexpr const char* kRules = R"j({"result": [
 {"id": "r1", "name": "Block ads", "filters": ["dns"], "action": "block", "precedence": 1,
  "traffic": "any(dns.domains[*] == \"ads.example\")"}
]})j";

} // namespace

TEST_SUITE_BEGIN("policy.export_checks");

TEST_CASE("a list with a count but no items skips the rules that use it, naming the list") {
    PolicyTexts t;
    t.lists = kListsWithoutItems;
    t.rules = kRulesOnLists;
    auto set = load_policy_texts(t);
    REQUIRE_MESSAGE(set, (set ? "" : set.error().detail));
    const PolicySet& s = **set;
    // The lists themselves load (an unused one harms nothing); their count is kept.
    REQUIRE(s.find_list("22509276-1c53-4a46-933a-9ff5e5e7b2ec") != nullptr);
    CHECK(s.find_list("22509276-1c53-4a46-933a-9ff5e5e7b2ec")->count_without_items == 12);
    CHECK(s.find_list("33333333-0000-4000-8000-000000000003")->count_without_items == 0);
    CHECK(s.find_list("44444444-0000-4000-8000-000000000004")->count_without_items == 0);
    CHECK(s.find_list("55555555-0000-4000-8000-000000000005")->count_without_items == 3);
    // The rules on a list with items, or on a list that is empty (count 0), load.
    REQUIRE(s.dns_rules.size() == 2);
    CHECK(s.dns_rules[0].id == "r-allow");
    CHECK(s.dns_rules[1].id == "r-empty");
    REQUIRE(s.skipped_rules.size() == 2);
    const SkippedRule& block = s.skipped_rules[0];
    CHECK(block.id == "r-block");
    CHECK(block.name == "Block listed");
    CHECK(block.field == "traffic");
    CHECK(block.column == 23); // the `$` of the reference
    CHECK(block.reason ==
          "list 22509276-1c53-4a46-933a-9ff5e5e7b2ec (\"Blocked domains\") has count 12 but no "
          "items in lists: the lists export was taken without items (GET "
          "/accounts/{account_id}/gateway/lists returns lists without them); export with "
          "`dnslab-probe gateway-export`, or add each list's items from GET "
          "/accounts/{account_id}/gateway/lists/{list_id}/items");
    CHECK(has(s.warnings[0], "rules: rule r-block (\"Block listed\") skipped: traffic column 23: "
                             "list 22509276-1c53-4a46-933a-9ff5e5e7b2ec"));
    // `items: []` with a count is the same mistake; the column is the second reference's.
    CHECK(s.skipped_rules[1].id == "r-hollow");
    CHECK(s.skipped_rules[1].column == 40);
    CHECK(has(s.skipped_rules[1].reason, "(\"Hollow\") has count 3 but no items"));
}

TEST_CASE("a rule skipped for a list without items counts under --strict and is listed as data") {
    PolicyTexts t;
    t.lists = kListsWithoutItems;
    t.rules = kRulesOnLists;
    auto set = load_policy_texts(t);
    REQUIRE(set);
    // --strict counts every warning that is not a rule of another filter: these count.
    for (const auto& sk : (*set)->skipped_rules) {
        CHECK_FALSE(sk.other_filter());
    }
    const json details = warning_details(**set);
    REQUIRE(details.size() == 2);
    CHECK(details[0]["skipped"] == true);
    CHECK(details[0]["rule_id"] == "r-block");
    CHECK(details[0]["column"] == 23);
    CHECK(has(details[0]["message"].get<std::string>(), "gateway-export"));
}

TEST_CASE("a dns.location ID missing from the locations export is a warning; the rule loads") {
    PolicyTexts t;
    t.locations = kLocations;
    t.rules = R"j([
 {"id": "r-loc", "name": "Branch block", "filters": ["dns"], "action": "block", "precedence": 1,
  "traffic": "dns.location in {\"loc-hq\" \"loc-gone\" \"loc-typo\"} and dns.fqdn == \"x.example\""},
 {"id": "r-eq", "name": "Not HQ", "filters": ["dns"], "action": "allow", "precedence": 2,
  "traffic": "dns.location != \"loc-old\" or dns.location == \"loc-branch\""},
 {"id": "r-ok", "name": "HQ only", "filters": ["dns"], "action": "block", "precedence": 3,
  "traffic": "dns.location == \"loc-hq\""}
])j";
    auto set = load_policy_texts(t);
    REQUIRE_MESSAGE(set, (set ? "" : set.error().detail));
    const PolicySet& s = **set;
    CHECK(s.dns_rules.size() == 3);
    CHECK(s.skipped_rules.empty());
    REQUIRE(s.rule_warnings.size() == 3);
    REQUIRE(s.warnings.size() == 3);
    const RuleWarning& gone = s.rule_warnings[0];
    CHECK(gone.id == "r-loc");
    CHECK(gone.name == "Branch block");
    CHECK(gone.field == "traffic");
    CHECK(gone.column == 27);
    CHECK(gone.message == "location ID \"loc-gone\" is not in the locations export (locations): "
                          "no query is attributed to it; the rule loads");
    CHECK(s.warnings[0] == "rules: rule r-loc (\"Branch block\"): traffic column 27: location ID "
                           "\"loc-gone\" is not in the locations export (locations): no query is "
                           "attributed to it; the rule loads");
    CHECK(s.rule_warnings[1].column == 38);
    CHECK(has(s.rule_warnings[1].message, "\"loc-typo\""));
    CHECK(s.rule_warnings[2].id == "r-eq");
    CHECK(s.rule_warnings[2].column == 17);
    CHECK(has(s.rule_warnings[2].message, "\"loc-old\""));

    const json details = warning_details(s);
    REQUIRE(details.size() == 3);
    CHECK(details[0]["rule_id"] == "r-loc");
    CHECK(details[0]["rule_name"] == "Branch block");
    CHECK(details[0]["field"] == "traffic");
    CHECK(details[0]["column"] == 27);
    CHECK(details[0]["skipped"] == false);
    CHECK(details[0]["warning"] == s.warnings[0]);
    CHECK(has(details[0]["message"].get<std::string>(), "loc-gone"));
}

TEST_CASE("without a locations export, location IDs are not checked") {
    PolicyTexts t;
    t.rules = R"j([{"id": "r-loc", "name": "n", "filters": ["dns"], "action": "block",
                    "traffic": "dns.location in {\"loc-anything\"}"}])j";
    auto set = load_policy_texts(t);
    REQUIRE(set);
    CHECK((*set)->dns_rules.size() == 1);
    CHECK((*set)->warnings.empty());
}

TEST_CASE("an export given where another is expected is refused, saying what it looks like") {
    struct Case {
        const char* what;
        std::string PolicyTexts::*field;
        const char* text;
        std::string error;
    };
    const Case cases[] = {
        {"rules as locations", &PolicyTexts::locations, kRules, given_as("locations", "rules")},
        {"locations as rules", &PolicyTexts::rules, kLocations, given_as("rules", "locations")},
        {"lists as rules", &PolicyTexts::rules, kListsWithoutItems, given_as("rules", "lists")},
        {"rules as lists", &PolicyTexts::lists, kRules, given_as("lists", "rules")},
        {"locations as lists", &PolicyTexts::lists, kLocations, given_as("lists", "locations")},
        {"lists as locations", &PolicyTexts::locations, kListsWithoutItems,
         given_as("locations", "lists")},
        {"gateway categories as locations", &PolicyTexts::locations,
         R"j({"result": [{"id": 1, "name": "Ads", "class": "free", "subcategories": []}]})j",
         "locations looks like a Gateway categories export, expected a locations export "
         "(--locations)"},
        {"gateway categories as the categories CSV", &PolicyTexts::categories,
         R"j({"result": [{"id": 1, "name": "Ads", "class": "free", "subcategories": []}]})j",
         "categories looks like a Gateway categories export (JSON), expected a categories CSV "
         "(domain,categories) (--categories)"},
        {"rules as the categories CSV", &PolicyTexts::categories, kRules,
         "categories looks like a Gateway rules export (JSON), expected a categories CSV"},
    };
    for (const Case& c : cases) {
        CAPTURE(c.what);
        PolicyTexts t;
        t.*c.field = c.text;
        auto set = load_policy_texts(t);
        REQUIRE_FALSE(set);
        CHECK(set.error().code == resolver::Errc::ConfigInvalid);
        CHECK(has(set.error().detail, c.error));
    }
}

TEST_CASE("the shape check never refuses a real export of the right kind") {
    // One element of another kind among rules (a location pasted in by mistake) does not
    // make a rules export a locations export: that element is skipped as a rule.
    PolicyTexts t;
    t.rules = R"j([
 {"id": "r1", "name": "Block ads", "filters": ["dns"], "action": "block",
  "traffic": "dns.fqdn == \"ads.example\""},
 {"id": "l1", "name": "HQ", "networks": [{"network": "192.0.2.0/24"}]}
])j";
    t.locations = kLocations;
    t.lists = R"j([{"id": "a", "items": ["x.example"]}, {"id": "b"}])j";
    auto set = load_policy_texts(t);
    REQUIRE_MESSAGE(set, (set ? "" : set.error().detail));
    CHECK((*set)->dns_rules.size() == 1);
    CHECK((*set)->skipped_rules.size() == 1);
    CHECK((*set)->locations.locations.size() == 2);
    CHECK((*set)->lists.size() == 2);

    // Empty exports and items that say nothing (only id/name) load as given.
    PolicyTexts empty;
    empty.rules = R"({"result": []})";
    empty.locations = R"j([{"id": "x", "name": "y"}])j";
    empty.lists = "[]";
    auto e = load_policy_texts(empty);
    REQUIRE_MESSAGE(e, (e ? "" : e.error().detail));
    CHECK((*e)->locations.locations.size() == 1);

    // A categories CSV is still read as CSV.
    PolicyTexts csv;
    csv.categories = "domain,categories\nanonymizer.example,68\n";
    auto c = load_policy_texts(csv);
    REQUIRE_MESSAGE(c, (c ? "" : c.error().detail));
    const auto cats = (*c)->categories.lookup("anonymizer.example");
    CHECK(std::find(cats.begin(), cats.end(), 68) != cats.end());
}

TEST_CASE("export kinds by key") {
    CHECK(export_kind_of(json::parse(R"({"id":"1","traffic":"x","action":"block"})")) ==
          ExportKind::Rules);
    CHECK(export_kind_of(json::parse(R"({"id":"1","networks":[]})")) == ExportKind::Locations);
    CHECK(export_kind_of(json::parse(R"({"id":"1","type":"DOMAIN","count":0})")) ==
          ExportKind::Lists);
    CHECK(export_kind_of(json::parse(R"({"id":"1","application_type_id":4})")) ==
          ExportKind::AppTypes);
    CHECK(export_kind_of(json::parse(R"({"id":"1","name":"x"})")) == ExportKind::Unknown);
    CHECK(export_kind_of(json::parse(R"({"traffic":"x","networks":[]})")) == ExportKind::Unknown);
    CHECK(export_kind_of(json::parse("[1]")) == ExportKind::Unknown);
}
