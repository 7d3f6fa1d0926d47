// SPDX-License-Identifier: MIT
// Issue 12 defect 2: no input, of any shape, may end the process. A number too large for a
// double (`1e400`) aborted start-up, `explain` and SIGHUP reloads (nlohmann's out_of_range
// escaped); wrong types were read as defaults without a word. Each case names the file, the
// item and the key.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <new>
#include <stdexcept>
#include <string>

#include <doctest/doctest.h>

#include "resolver/policy/behaviour.hpp"
#include "resolver/policy/load.hpp"
#include "resolver/util/load_guard.hpp"

using namespace resolver;
using namespace resolver::policy;

namespace {

struct Case {
    const char* text;
    const char* needles[3];
};

/// The error of a refused input, or the warnings of a rule skipped at load (each rule
/// loads on its own: a wrong type in one rule skips that rule, not the export).
std::string error_of(const PolicyTexts& t) {
    auto set = load_policy_texts(t);
    if (!set) {
        return set.error().detail;
    }
    std::string out = "<loaded>";
    for (const auto& w : (*set)->warnings) {
        out += "\n" + w;
    }
    return out;
}

/// Loads each case's text as `field` and checks the error holds every needle.
template <std::size_t N>
void check_cases(std::string PolicyTexts::*field, const Case (&cases)[N]) {
    for (const Case& c : cases) {
        PolicyTexts t;
        t.*field = c.text;
        const std::string e = error_of(t);
        CAPTURE(c.text);
        CAPTURE(e);
        for (const char* n : c.needles) {
            if (n != nullptr) {
                CHECK(e.find(n) != std::string::npos);
            }
        }
    }
}

} // namespace

TEST_SUITE_BEGIN("policy.load_errors");

TEST_CASE("rules: 1e400 and wrong types are named errors with the rule and key") {
    const Case cases[] = {
        {R"j([{"id":"r1","name":"x","filters":["dns"],"action":"block","precedence":1e400}])j",
         {"rules: line 1 column", "rule #1 (id \"r1\") key \"precedence\"",
          "number 1e400 is out of range"}},
        {R"j({"result":[{"id":"a","filters":["dns"],"action":"block"},
                        {"id":"b","rule_settings":{"override_ips":[1e999]}}]})j",
         {"line 2 column", "rule #2 (id \"b\") key \"rule_settings.override_ips[0]\"",
          "1e999 is out of range"}},
        {R"j([{"id":"r1","filters":["dns"],"action":"block","precedence":"10"}])j",
         {"rules: rule r1 (\"\")", "key \"precedence\": expected an integer, got string \"10\""}},
        {R"j([{"id":"r1","filters":["dns"],"action":"block","precedence":1.5}])j",
         {"rule r1", "key \"precedence\": expected an integer, got number 1.5"}},
        {R"j([{"id":"r1","filters":"dns","action":"block"}])j",
         {"rule r1", "key \"filters\": expected an array, got string \"dns\""}},
        {R"j([{"id":"r1","filters":["dns", 7],"action":"block"}])j",
         {"rule r1", "key \"filters[1]\": expected a string, got number 7"}},
        {R"j([{"id":"r1","filters":["dns"],"action":"block","enabled":"yes"}])j",
         {"rule r1", "key \"enabled\": expected true or false, got string \"yes\""}},
        {R"j([{"id":5,"filters":["dns"],"action":"block"}])j",
         {"rules: rule #1", "key \"id\": expected a string, got number 5"}},
        {R"j([42])j", {"rules: rule #1", "expected an object, got number 42"}},
        {R"j([{"id":"r1","filters":["dns"],"action":"block","traffic":["x"]}])j",
         {"rule r1", "key \"traffic\": expected a string, got an array"}},
        {R"j([{"id":"r1","filters":["dns"],"action":"override",
               "rule_settings":{"override_ips":"192.0.2.1"}}])j",
         {"rule r1", "key \"rule_settings.override_ips\": expected an array"}},
        {R"j([{"id":"r1","filters":["dns_resolver"],"action":"resolve",
               "rule_settings":{"dns_resolvers":{"ipv4":[{"ip":"192.0.2.1","port":"53"}]}}}])j",
         {"rule r1",
          "key \"rule_settings.dns_resolvers.ipv4[0].port\": expected an integer, got string"}},
        {R"j([{"id":"r1","filters":["dns"],"action":"block","schedule":"mon"}])j",
         {"rule r1", "key \"schedule\": expected an object, got string \"mon\""}},
        {R"j([{"id":"r1","filters":["dns"],"action":"block","expiration":{"expired":1}}])j",
         {"rule r1", "key \"expiration.expired\": expected true or false, got number 1"}},
        {R"j([{"id":"r1","filters":["dns"],"action":"block","precedence":18446744073709551615}])j",
         {"rule r1", "key \"precedence\": expected an integer up to 2^63-1"}},
    };
    check_cases(&PolicyTexts::rules, cases);
}

TEST_CASE("rules: null reads as absent, as the Cloudflare API writes unset settings") {
    PolicyTexts t;
    t.rules = R"j([{"id":"r1","name":"n","filters":["dns"],"action":"block","precedence":null,
                    "description":null,"schedule":null,"expiration":null,"device_posture":null,
                    "rule_settings":{"block_page":null,"override_ips":null,"dns_resolvers":null},
                    "traffic":"dns.fqdn == \"a.example\""}])j";
    auto set = load_policy_texts(t);
    REQUIRE_MESSAGE(set, (set ? "" : set.error().detail));
    REQUIRE((*set)->dns_rules.size() == 1);
    CHECK((*set)->dns_rules[0].precedence == 0);
    CHECK_FALSE((*set)->dns_rules[0].schedule);
}

TEST_CASE("locations: 1e400 and wrong types are named errors with the location and key") {
    const Case cases[] = {
        {R"j([{"id":"l1","name":"HQ","networks":[{"network":"192.0.2.0/24"}],"x":-1e400}])j",
         {"locations: line 1 column", "location #1 (id \"l1\") key \"x\"",
          "number -1e400 is out of range"}},
        {R"j([{"id":"l1","name":"HQ","networks":[5]}])j",
         {"locations: location l1 (\"HQ\")",
          "key \"networks[0]\": expected an object, got number 5"}},
        {R"j([{"id":"l1","name":"HQ","client_default":"true"}])j",
         {"location l1", "key \"client_default\": expected true or false, got string \"true\""}},
        {R"j([{"id":"l1","name":"HQ","endpoints":{"doh":true}}])j",
         {"location l1", "key \"endpoints.doh\": expected an object, got boolean true"}},
        {R"j([{"id":"l1","name":"HQ","max_ttl":{"mode":"override","ttl_secs":1.5}}])j",
         {"location l1", "key \"max_ttl.ttl_secs\": expected an integer, got number 1.5"}},
        {R"j({"result":[{"id":"l1","name":"HQ","doh_subdomain":12}]})j",
         {"location l1", "key \"doh_subdomain\": expected a string, got number 12"}},
        {R"j(["HQ"])j", {"locations: location #1", "expected an object, got string \"HQ\""}},
    };
    check_cases(&PolicyTexts::locations, cases);
}

TEST_CASE("identities: 1e400 and wrong types are named errors with the identity and key") {
    const Case cases[] = {
        {R"j({"identities":[{"token":"t","email":"a@example.com","n":1e400}]})j",
         {"identities: line 1 column", "identity #1 key \"n\"", "1e400 is out of range"}},
        {R"j([{"token":"t","email":"a@example.com","groups":[5]}])j",
         {"identities: identity #1 (a@example.com)", "key \"groups[0]\": expected an object"}},
        {R"j([{"token":"t","email":"a@example.com","saml_attributes":{"dept":5}}])j",
         {"identity #1", "key \"saml_attributes.dept\": expected a string or an array of strings"}},
        {R"j([{"token":"t","email":"a@example.com","saml_attributes":{"dept":["x",false]}}])j",
         {"identity #1", "key \"saml_attributes.dept[1]\": expected a string, got boolean false"}},
        {R"j([{"token":7}])j", {"identity #1", "key \"token\": expected a string, got number 7"}},
    };
    check_cases(&PolicyTexts::identities, cases);
}

TEST_CASE("lists: 1e400 names the list and the key; the streamed loader never throws") {
    const Case cases[] = {
        {R"j([{"id":"l1","name":"x","type":"DOMAIN","items":[{"value":"a.example","n":1e400}]}])j",
         {"lists: line 1 column", "list #1 (id \"l1\") key \"items[0].n\"",
          "1e400 is out of range"}},
        {R"j({"result":[{"id":"l1","items":[1e400]}]})j",
         {"list #1 (id \"l1\") key \"items[0]\"", "1e400 is out of range"}},
    };
    check_cases(&PolicyTexts::lists, cases);
}

TEST_CASE("categories and geo: numbers out of range are named rows, not crashes") {
    PolicyTexts t;
    t.categories = "domain,categories\nexample.com,1e400\n";
    CHECK(error_of(t) == "categories: line 2: bad category ID '1e400'");
    t = PolicyTexts{};
    t.geo = "cidr,country,continent\n1e400/99,US,NA\n";
    CHECK(error_of(t) == "geo: line 2: expected cidr,country,continent");
    t = PolicyTexts{};
    t.category_ids = "id,name,parent\n1e400,Huge,0\n";
    CHECK(error_of(t) ==
          "category ids: line 2: expected id,name,parent with IDs 1-255 (parent 0 = none)");
}

TEST_CASE("a policy input larger than the cap is refused before it is parsed") {
    const auto dir = std::filesystem::temp_directory_path() /
                     ("dnslab-load-errors-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const auto big = (dir / "rules.json").string();
    {
        std::FILE* f = std::fopen(big.c_str(), "w");
        REQUIRE(f != nullptr);
        std::fputs("[", f);
        for (int i = 0; i < 2000; ++i) {
            std::fputs(" ", f);
        }
        std::fputs("]", f);
        std::fclose(f);
    }
    PolicyFiles files;
    files.rules = big;
    files.max_input_bytes = 1000;
    auto set = load_policy(files);
    REQUIRE_FALSE(set);
    CHECK(set.error().detail == big + ": 2002 bytes, more than the 1000 a policy input may have");
    // A device that never ends (a FIFO or /dev/zero given by mistake) hits the same cap.
    files.rules = "/dev/zero";
    files.max_input_bytes = 1 << 20;
    set = load_policy(files);
    REQUIRE_FALSE(set);
    CHECK(set.error().detail == "/dev/zero: more than the 1048576 bytes a policy input may have");
    std::filesystem::remove_all(dir);
}

TEST_CASE("the [behaviour] table: 1e400 and wrong types are errors, never exceptions") {
    // toml++ refuses 1e400 itself; the error keeps its line and column.
    auto b = parse_behaviour_toml("[behaviour]\nytrestricted_decision = 1e400\n");
    REQUIRE_FALSE(b);
    CHECK(b.error().detail.find("[behaviour] TOML line 2 column") == 0);
    CHECK(b.error().detail.find("'1e400'") != std::string::npos);
    b = parse_behaviour_toml("[behaviour]\nalways_block = \"yes\"\n");
    REQUIRE_FALSE(b);
    CHECK(b.error().detail.find("always_block") != std::string::npos);
    b = parse_behaviour_toml("[behaviour]\nalways_block_categories = [1, 1.5]\n");
    REQUIRE_FALSE(b);
    CHECK(b.error().detail.find("always_block_categories") != std::string::npos);
    b = parse_behaviour_toml("[behaviour]\nytrestricted_decision = 99999999999\n");
    REQUIRE_FALSE(b);
    CHECK(b.error().detail.find("ytrestricted_decision") != std::string::npos);
}

TEST_CASE("guard_load turns every exception into a named ConfigInvalid error") {
    auto throws = [](auto ex) {
        return util::guard_load("rules.json", [&]() -> Status { throw ex; });
    };
    auto st = throws(std::bad_alloc());
    REQUIRE_FALSE(st);
    CHECK(st.error().code == Errc::ConfigInvalid);
    CHECK(st.error().detail ==
          "rules.json: out of memory while loading (an absurdly large input?)");
    st = throws(std::out_of_range("number overflow"));
    REQUIRE_FALSE(st);
    CHECK(st.error().detail == "rules.json: number overflow");
    st = throws(42);
    REQUIRE_FALSE(st);
    CHECK(st.error().detail == "rules.json: unknown error while loading");
    auto fine = util::guard_load("x", []() -> Result<int> { return 7; });
    REQUIRE(fine);
    CHECK(*fine == 7);
}

TEST_SUITE_END();
