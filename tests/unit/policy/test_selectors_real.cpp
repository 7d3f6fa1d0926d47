// SPDX-License-Identifier: MIT
// Selectors that real Gateway exports use (issue 17): device_posture, identity.oidc_claims,
// app.ids / app.type.ids, dns.indicator_feed, dns.src_internal_ip.
#include <doctest/doctest.h>

#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "resolver/policy/evaluate.hpp"
#include "resolver/policy/load.hpp"
#include "tests/unit/support/source_tree.hpp"

using namespace resolver::policy;
namespace net = resolver::net;
namespace wire = resolver::wire;

namespace {

std::string rule_id(const Evaluation& ev) {
    return ev.rule != nullptr ? ev.rule->id : "";
}

const RuleTrace* line_of(const Evaluation& ev, std::string_view id) {
    for (const auto& t : ev.trace) {
        if (t.rule != nullptr && t.rule->id == id) {
            return &t;
        }
    }
    return nullptr;
}

struct Lab {
    PolicySetPtr set;
    Evaluation eval(std::string_view name, const char* src, std::string_view token = {},
                    bool trace = true) const {
        QueryFacts q;
        q.qname = name;
        q.qtype = wire::rrtype::A;
        q.location = &set->locations.locations[0];
        q.identity_token = token;
        q.src_ip = net::IpAddr::parse(src);
        Evaluation traced = evaluate_pre(*set, q, Behaviour{}, EvalOptions{0, true});
        // The indexed walk (trace off) decides exactly as the traced linear walk.
        Evaluation fast = evaluate_pre(*set, q, Behaviour{}, EvalOptions{0, false});
        CHECK(fast.rule == traced.rule);
        CHECK(fast.decision == traced.decision);
        return trace ? std::move(traced) : std::move(fast);
    }
};

Lab load(PolicyTexts t) {
    if (t.locations.empty()) {
        t.locations = R"j([{"id":"loc","name":"L"}])j";
    }
    auto set = load_policy_texts(t);
    REQUIRE_MESSAGE(set, (set ? "" : set.error().detail));
    return Lab{*set};
}

} // namespace

TEST_CASE("device_posture is evaluated against the identity map's posture results") {
    PolicyTexts t;
    t.identities = R"j([
        {"source_ip":"10.0.0.1/32","email":"ok@example.com",
         "device_posture":{"passed":["p-disk","p-fw"],"failed":["p-os"]}},
        {"source_ip":"10.0.0.2/32","email":"bad@example.com",
         "device_posture":{"passed":[],"failed":["p-disk"]}},
        {"source_ip":"10.0.0.3/32","email":"noposture@example.com"}])j";
    // The shape of Cloudflare's API example (zero-trust-gateway_device_posture schema).
    t.rules = R"j([
      {"id":"needs-disk","precedence":1,"action":"block","filters":["dns"],
       "traffic":"dns.fqdn == \"secret.example\"",
       "device_posture":"not(any(device_posture.checks.passed[*] in {\"p-disk\"}))"},
      {"id":"allow-healthy","precedence":2,"action":"allow","filters":["dns"],
       "traffic":"dns.fqdn == \"app.example\"",
       "device_posture":"any(device_posture.checks.passed[*] in {\"p-disk\"})"},
      {"id":"block-app","precedence":3,"action":"block","filters":["dns"],
       "traffic":"dns.fqdn == \"app.example\""},
      {"id":"failed-os","precedence":4,"action":"block","filters":["dns"],
       "traffic":"dns.fqdn == \"os.example\"",
       "device_posture":"any(device_posture.checks.failed[*] in {\"p-os\"})"}])j";
    Lab lab = load(t);
    CHECK(lab.set->warnings.empty()); // device_posture is no longer "treated as true"

    // Passed the check: the allow matches before the block.
    CHECK(rule_id(lab.eval("app.example", "10.0.0.1")) == "allow-healthy");
    // Failed it: the allow does not match, the next rule blocks.
    auto bad = lab.eval("app.example", "10.0.0.2");
    CHECK(rule_id(bad) == "block-app");
    REQUIRE(line_of(bad, "allow-healthy") != nullptr);
    CHECK(line_of(bad, "allow-healthy")->verdict == RuleTrace::Verdict::NotMatched);
    CHECK(line_of(bad, "allow-healthy")->reason.find("device_posture: ") == 0);
    CHECK(line_of(bad, "allow-healthy")->reason.find("no posture data") == std::string::npos);

    // No posture data: the rule is not matched (never assumed passed), and the line says why.
    auto none = lab.eval("app.example", "10.0.0.3");
    CHECK(rule_id(none) == "block-app");
    const RuleTrace* l = line_of(none, "allow-healthy");
    REQUIRE(l != nullptr);
    CHECK(l->verdict == RuleTrace::Verdict::NotMatched);
    CHECK(l->reason.find("device_posture: no posture data: the identity-map entry") == 0);
    // No identity at all.
    auto anon = lab.eval("app.example", "192.0.2.9");
    REQUIRE(line_of(anon, "allow-healthy") != nullptr);
    CHECK(line_of(anon, "allow-healthy")->reason.find("the query has no identity") !=
          std::string::npos);

    // A negated posture expression matches without data; the matched line says so.
    auto neg = lab.eval("secret.example", "10.0.0.3");
    CHECK(rule_id(neg) == "needs-disk");
    REQUIRE(line_of(neg, "needs-disk") != nullptr);
    CHECK(line_of(neg, "needs-disk")->verdict == RuleTrace::Verdict::Matched);
    CHECK(line_of(neg, "needs-disk")->reason.find("device_posture matched with no posture data") !=
          std::string::npos);
    CHECK(rule_id(lab.eval("secret.example", "10.0.0.1")) == "");
    // With data, the matched line carries no such note.
    auto os = lab.eval("os.example", "10.0.0.1");
    CHECK(rule_id(os) == "failed-os");
    CHECK(line_of(os, "failed-os")->reason == "block (first match wins)");
    CHECK(rule_id(lab.eval("os.example", "10.0.0.2")) == "");
}

TEST_CASE("device_posture errors name the rule and the column") {
    PolicyTexts t;
    t.rules = R"j([{"id":"r1","name":"Posture","action":"block","filters":["dns"],
        "device_posture":"any(device_posture.checks.passd[*] in {\"x\"})"}])j";
    t.locations = R"j([{"id":"loc","name":"L"}])j";
    // A rule the lab cannot read is skipped with a warning naming it (issue 17), not fatal.
    auto set = load_policy_texts(t);
    REQUIRE(set);
    REQUIRE((*set)->skipped_rules.size() == 1);
    CHECK((*set)->skipped_rules[0].id == "r1");
    CHECK((*set)->skipped_rules[0].field == "device_posture");
    CHECK((*set)->skipped_rules[0].column == 5);
    CHECK((*set)->dns_rules.empty());

    PolicyTexts bad_map;
    bad_map.identities = R"j([{"email":"a@b","device_posture":{"passed":[1]}}])j";
    auto m = load_policy_texts(bad_map);
    REQUIRE_FALSE(m);
    CHECK(m.error().detail.find("device_posture.passed") != std::string::npos);
}

TEST_CASE("identity.oidc_claims from the identity map") {
    PolicyTexts t;
    t.identities = R"j([
        {"token":"eng","email":"e@example.com","oidc_claims":{"department":"engineering",
                                                               "roles":["admin","dev"]}},
        {"token":"raw","email":"r@example.com","oidc_claims":["\"department=sales\""]},
        {"token":"none","email":"n@example.com"}])j";
    // Cloudflare's selector example (partials/cloudflare-one/gateway/selectors/oidc-claims.mdx).
    t.rules = R"j([
      {"id":"eng","precedence":1,"action":"block","filters":["dns"],
       "identity":"any(identity.oidc_claims[*] == \"\\\"department=engineering\\\"\")"},
      {"id":"admin","precedence":2,"action":"block","filters":["dns"],
       "identity":"any(identity.oidc_claims[*] in {\"\\\"roles=admin\\\"\" \"\\\"department=sales\\\"\"})"}])j";
    Lab lab = load(t);
    CHECK(rule_id(lab.eval("x.example", "192.0.2.1", "eng")) == "eng");
    CHECK(rule_id(lab.eval("x.example", "192.0.2.1", "raw")) == "admin");
    auto none = lab.eval("x.example", "192.0.2.1", "none");
    CHECK(rule_id(none) == "");
    CHECK(rule_id(lab.eval("x.example", "192.0.2.1", "")) == "");
    REQUIRE(line_of(none, "eng") != nullptr);
    CHECK(line_of(none, "eng")->reason.find("identity.oidc_claims") != std::string::npos);

    PolicyTexts bad;
    bad.identities = R"j([{"email":"a@b","oidc_claims":{"department":5}}])j";
    auto m = load_policy_texts(bad);
    REQUIRE_FALSE(m);
    CHECK(m.error().detail.find("oidc_claims.department") != std::string::npos);
}

namespace {
std::string fixture_text(const std::string& rel) {
    std::ifstream in(test_support::fixtures_dir() / rel);
    REQUIRE_MESSAGE(in, rel);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}
} // namespace

TEST_CASE("app.ids and app.type.ids match the catalogue's domains") {
    PolicyTexts t;
    t.applications = fixture_text("applications/applications.json");
    // Cloudflare's recommended All-DNS-Application-Blocklist and the selector example.
    t.rules = R"j([
      {"id":"ai-type","precedence":2,"action":"block","filters":["dns"],
       "traffic":"any(app.type.ids[*] in {25})"},
      {"id":"app-505","precedence":1,"action":"allow","filters":["dns"],
       "traffic":"any(app.ids[*] in {505}) and dns.fqdn == \"docs.ai-lab.example\""},
      {"id":"chat","precedence":3,"action":"block","filters":["dns"],
       "traffic":"any(app.ids[*] in {701})"}])j";
    Lab lab = load(t);
    struct Row {
        const char* name;
        const char* rule;
        std::vector<std::int64_t> apps; // Evaluation::query_apps, most specific first
    };
    const Row rows[] = {
        {"ai-lab.example", "ai-type", {505}},
        {"assistant.ai-lab.example", "ai-type", {505}},   // listed itself and via its parent
        {"images.ai-lab.example", "ai-type", {506, 505}}, // the most specific app first
        {"deep.images.ai-lab.example", "ai-type", {506, 505}},
        {"docs.ai-lab.example", "app-505", {505}}, // the allow before the type block
        {"chat.collab-lab.example", "chat", {701}},
        {"collab-lab.example", "", {}}, // a parent of an app's domain: no app
        {"other.example", "", {}},
    };
    for (const auto& row : rows) {
        CAPTURE(row.name);
        auto ev = lab.eval(row.name, "192.0.2.1");
        CHECK(rule_id(ev) == row.rule);
        CHECK(ev.query_apps == row.apps);
    }
    CHECK(lab.set->applications.name_of(505) == "Lab AI assistant 505");
    CHECK(lab.set->applications.type_of(701) == 7);

    // gateway-export's app_types.json names the apps over the catalogue's names.
    PolicyTexts named = t;
    named.app_types = R"j({"success":true,"result":[
        {"id":505,"application_type_id":25,"name":"Exported name 505"},
        {"id":25,"name":"Artificial Intelligence"}]})j";
    Lab l2 = load(named);
    CHECK(l2.set->applications.name_of(505) == "Exported name 505");
    CHECK(rule_id(l2.eval("ai-lab.example", "192.0.2.1")) == "ai-type"); // domains kept
}

TEST_CASE("the application catalogue refuses bad items by name") {
    auto err = [](const std::string& text) {
        ApplicationCatalogue c;
        auto st = c.add_json(text, "apps.json");
        REQUIRE_FALSE(st);
        return st.error().detail;
    };
    CHECK(err(R"j([{"name":"x"}])j") == "apps.json: application #1: needs an integer \"id\"");
    CHECK(err(R"j([{"id":3,"domains":["a.example"]}])j").find("no application_type_id") !=
          std::string::npos);
    CHECK(err(R"j([{"id":3,"application_type_id":1,"domains":["bad name"]}])j") ==
          "apps.json: application #1 (id 3): domains[0]: not a domain name \"bad name\"");
    CHECK(err(R"j({"apps":[]})j").find("expected a JSON array") != std::string::npos);
    CHECK(err("[").find("apps.json") == 0);
}

TEST_CASE("dns.indicator_feed on names, and on resolved IPs with ip_indicator_feeds") {
    PolicyTexts t;
    t.indicator_feeds = fixture_text("indicator_feeds/feeds.json");
    t.rules = R"j([
      {"id":"feed","precedence":1,"action":"block","filters":["dns"],
       "traffic":"any(dns.indicator_feed[*] in {4242})",
       "rule_settings":{"ip_indicator_feeds":true}},
      {"id":"phish","precedence":2,"action":"block","filters":["dns"],
       "traffic":"dns.indicator_feed == 4243"}])j";
    Lab lab = load(t);
    auto m = lab.eval("x.malware.feed-lab.example", "192.0.2.1");
    CHECK(rule_id(m) == "feed");
    CHECK(m.matched_feeds == std::vector<std::int64_t>{4242});
    CHECK(m.query_feeds == std::vector<std::int64_t>{4242, 4243}); // feed-lab.example: 4243
    auto p = lab.eval("phish.feed-lab.example", "192.0.2.1");
    CHECK(rule_id(p) == "phish");
    CHECK(p.query_feeds == std::vector<std::int64_t>{4243});
    CHECK(p.matched_feeds == std::vector<std::int64_t>{4243});

    // www.example.com resolves to 192.0.2.10, an address of feed 4242: blocked after
    // resolution, by the rule with ip_indicator_feeds only.
    QueryFacts q;
    q.qname = "www.example.com";
    q.location = &lab.set->locations.locations[0];
    q.src_ip = net::IpAddr::parse("192.0.2.1");
    ResponseFacts resp;
    resp.resolved_ips = {*net::IpAddr::parse("192.0.2.10")};
    for (bool trace : {false, true}) {
        CAPTURE(trace);
        Evaluation ev = evaluate_pre(*lab.set, q, Behaviour{}, EvalOptions{0, trace});
        CHECK_FALSE(ev.finished);
        evaluate_post(*lab.set, q, resp, Behaviour{}, EvalOptions{0, trace}, ev);
        CHECK(rule_id(ev) == "feed");
        CHECK(ev.resolved_ip_feeds == std::vector<std::int64_t>{4242});
        CHECK(ev.query_feeds == std::vector<std::int64_t>{4242});
        CHECK(ev.matched_feeds == std::vector<std::int64_t>{4242});
    }
    ResponseFacts clean;
    clean.resolved_ips = {*net::IpAddr::parse("192.0.2.11")};
    Evaluation ev = evaluate_pre(*lab.set, q, Behaviour{}, EvalOptions{});
    evaluate_post(*lab.set, q, clean, Behaviour{}, EvalOptions{}, ev);
    CHECK(rule_id(ev) == "");
    CHECK(ev.query_feeds.empty());

    IndicatorFeeds f;
    auto st = f.add_json(R"j([{"id":1,"ips":["300.1.2.3"]}])j", "feeds.json");
    REQUIRE_FALSE(st);
    CHECK(st.error().detail ==
          "feeds.json: feed #1 (id 1): ips[0]: not an address or CIDR \"300.1.2.3\"");
    auto dup = f.add_json(R"j([{"id":1},{"id":1}])j", "feeds.json");
    REQUIRE_FALSE(dup);
    CHECK(dup.error().detail.find("feed id 1 is given twice") != std::string::npos);
}

TEST_CASE("dns.src_internal_ip is the private on-ramp source, absent otherwise") {
    PolicyTexts t;
    t.rules = R"j([
      {"id":"onramp","precedence":1,"action":"block","filters":["dns"],
       "traffic":"dns.src_internal_ip in {10.20.0.0/16} and dns.fqdn == \"x.example\""},
      {"id":"route","precedence":1,"action":"resolve","filters":["dns_resolver"],
       "traffic":"dns.src_internal_ip == 10.30.0.5",
       "rule_settings":{"resolve_dns_internally":{"view_id":"v1","fallback":"none"}}}])j";
    Lab lab = load(t);
    auto eval = [&](std::string_view name, const char* internal) {
        QueryFacts q;
        q.qname = name;
        q.location = &lab.set->locations.locations[0];
        q.src_ip = net::IpAddr::parse("203.0.113.7");
        if (internal != nullptr) {
            q.src_internal_ip = net::IpAddr::parse(internal);
        }
        return evaluate_pre(*lab.set, q, Behaviour{}, EvalOptions{0, true});
    };
    CHECK(rule_id(eval("x.example", "10.20.1.1")) == "onramp");
    CHECK(rule_id(eval("x.example", "10.21.1.1")) == "");
    CHECK(rule_id(eval("x.example", nullptr)) == "");
    CHECK(eval("y.example", "10.30.0.5").route.key() == "internal:v1");
    CHECK(eval("y.example", nullptr).route.key() == "default");
}
