// SPDX-License-Identifier: MIT
#include <doctest/doctest.h>

#include "policy_test_util.hpp"
#include "resolver/policy/evaluate.hpp"

using namespace resolver::policy;
namespace net = resolver::net;
namespace wire = resolver::wire;

namespace {

const PolicySet& fixture_set() {
    // Loaded once per test binary run: tests only read it.
    static const PolicySetPtr set = [] {
        auto r = load_policy(policy_test::fixture_files());
        REQUIRE_MESSAGE(r, (r ? "" : r.error().detail));
        return *r;
    }();
    return *set;
}

const resolver::attribution::Location* hq() {
    return &fixture_set().locations.locations[0];
}

// Wednesday 2024-07-03 10:00:00 UTC (12:00 in Paris).
constexpr std::int64_t kWednesdayNoon = 1720000800;

struct Outcome {
    Evaluation ev;
};

Evaluation run(std::string_view name, std::uint16_t type = wire::rrtype::A,
               const ResponseFacts* resp = nullptr, std::int64_t now = kWednesdayNoon,
               const resolver::attribution::Location* loc = hq(), std::string_view doh = {}) {
    QueryFacts q;
    q.qname = name;
    q.qtype = type;
    q.src_ip = net::IpAddr::parse("127.0.0.1");
    q.location = loc;
    q.doh_subdomain = doh;
    Behaviour b;
    EvalOptions opt{now, true};
    Evaluation ev = evaluate_pre(fixture_set(), q, b, opt);
    // The prefiltered path (trace off) must decide exactly like the full walk.
    Evaluation fast = evaluate_pre(fixture_set(), q, b, EvalOptions{now, false});
    CHECK(fast.decision == ev.decision);
    CHECK(fast.rule == ev.rule);
    CHECK(fast.route.key() == ev.route.key());
    ResponseFacts empty;
    if (!ev.finished) {
        evaluate_post(fixture_set(), q, resp != nullptr ? *resp : empty, b, opt, ev);
    }
    // So must the indexed post phase, with working memory reused across every query of
    // every test (one scratch, as the pipeline keeps one per loop): nothing may leak from
    // one query into the next.
    static EvalScratch scratch;
    static std::uint64_t next_query_id = 1;
    q.query_id = next_query_id++; // lets evaluate_post reuse the facts evaluate_pre built
    EvalOptions reuse{now, false, &scratch};
    Evaluation quick = evaluate_pre(fixture_set(), q, b, reuse);
    if (!quick.finished) {
        evaluate_post(fixture_set(), q, resp != nullptr ? *resp : empty, b, reuse, quick);
    }
    CHECK(quick.decision == ev.decision);
    CHECK(quick.rule == ev.rule);
    CHECK(quick.action == ev.action);
    CHECK(quick.query_categories == ev.query_categories);
    CHECK(quick.cname_categories == ev.cname_categories);
    CHECK(quick.resolved_ip_categories == ev.resolved_ip_categories);
    return ev;
}

std::string rule_id(const Evaluation& ev) {
    return ev.rule != nullptr ? ev.rule->id : "";
}

} // namespace

TEST_SUITE_BEGIN("policy.evaluate");

TEST_CASE("pre-resolution decisions on the sample export") {
    struct Row {
        const char* name;
        std::uint16_t type;
        ResolverDecision decision;
        const char* rule;
    };
    const Row rows[] = {
        {"corp.example.com", wire::rrtype::A, ResolverDecision::AllowedByQueryName,
         "a1000000-0000-4000-8000-000000000001"},
        {"www.corp.example.com.", wire::rrtype::A, ResolverDecision::AllowedByQueryName,
         "a1000000-0000-4000-8000-000000000001"},
        // login.testcategory.com is phishing but the corporate allow (precedence 100) wins.
        {"login.testcategory.com", wire::rrtype::A, ResolverDecision::AllowedByQueryName,
         "a1000000-0000-4000-8000-000000000001"},
        {"malware.testcategory.com", wire::rrtype::A, ResolverDecision::BlockedByCategory,
         "a1000000-0000-4000-8000-000000000002"},
        {"MALWARE.TestCategory.com", wire::rrtype::AAAA, ResolverDecision::BlockedByCategory,
         "a1000000-0000-4000-8000-000000000002"},
        {"x.newdomains.testcategory.com", wire::rrtype::A, ResolverDecision::BlockedByCategory,
         "a1000000-0000-4000-8000-000000000002"},
        {"nudity.testcategory.com", wire::rrtype::A, ResolverDecision::AllowedOnNoPolicyMatch, ""},
        {"blocked.example.com", wire::rrtype::A, ResolverDecision::BlockedByQueryName,
         "a1000000-0000-4000-8000-000000000003"},
        {"deep.ads.example.net", wire::rrtype::TXT, ResolverDecision::BlockedByQueryName,
         "a1000000-0000-4000-8000-000000000003"},
        {"portal.example.com", wire::rrtype::A, ResolverDecision::OverrideApplied,
         "a1000000-0000-4000-8000-000000000004"},
        {"www.portal.example.com", wire::rrtype::A, ResolverDecision::AllowedOnNoPolicyMatch, ""},
        {"alias.example.com", wire::rrtype::AAAA, ResolverDecision::OverrideApplied,
         "a1000000-0000-4000-8000-000000000005"},
        {"www.google.com", wire::rrtype::A, ResolverDecision::OverrideForSafeSearch,
         "a1000000-0000-4000-8000-000000000006"},
        {"www.youtube.com", wire::rrtype::A, ResolverDecision::OverrideForSafeSearch,
         "a1000000-0000-4000-8000-000000000007"},
        {"expired.example.com", wire::rrtype::A, ResolverDecision::AllowedOnNoPolicyMatch, ""},
        {"disabled.example.com", wire::rrtype::A, ResolverDecision::AllowedOnNoPolicyMatch, ""},
        {"doh-blocked.example.com", wire::rrtype::A, ResolverDecision::AllowedOnNoPolicyMatch, ""},
        {"casino.example.com", wire::rrtype::A, ResolverDecision::AllowedOnNoPolicyMatch,
         ""}, // not scheduled now
    };
    for (const auto& row : rows) {
        CAPTURE(row.name);
        auto ev = run(row.name, row.type);
        CHECK(decision_name(ev.decision) == decision_name(row.decision));
        CHECK(rule_id(ev) == row.rule);
    }
}

TEST_CASE("no location means no policies: allowedOnNoLocation") {
    auto ev = run("malware.testcategory.com", wire::rrtype::A, nullptr, kWednesdayNoon, nullptr);
    CHECK(ev.decision == ResolverDecision::AllowedOnNoLocation);
    CHECK_FALSE(ev.action);
    CHECK(ev.needs_resolution());
    CHECK(ev.route.kind == Route::Kind::Default);
    REQUIRE_FALSE(ev.trace.empty());
    CHECK(ev.trace[0].verdict == RuleTrace::Verdict::Skipped);
}

TEST_CASE("a rule scoped to a DoH subdomain fires only for it") {
    const auto* roaming = &fixture_set().locations.locations[2];
    auto ev = run("doh-blocked.example.com", wire::rrtype::A, nullptr, kWednesdayNoon, roaming,
                  "r0am1ng3d4");
    CHECK(ev.decision == ResolverDecision::BlockedByQueryName);
    CHECK(rule_id(ev) == "a1000000-0000-4000-8000-000000000008");
}

TEST_CASE("schedules are evaluated in the rule's time zone at the given time") {
    // Wednesday 2024-07-03 16:30 UTC = 18:30 in Paris (CEST): inside 18:00-24:00.
    auto ev = run("casino.example.com", wire::rrtype::A, nullptr, 1720024200);
    CHECK(ev.decision == ResolverDecision::BlockedByCategory);
    CHECK(ev.matched_categories == std::vector<std::int64_t>{8});
    // 15:30 UTC = 17:30 Paris: outside.
    auto before = run("casino.example.com", wire::rrtype::A, nullptr, 1720020600);
    CHECK(before.decision == ResolverDecision::AllowedOnNoPolicyMatch);
    bool skipped = false;
    for (const auto& t : before.trace) {
        if (t.rule != nullptr && t.rule->id == "a1000000-0000-4000-8000-00000000000b") {
            skipped = t.verdict == RuleTrace::Verdict::Skipped &&
                      t.reason.find("schedule (Europe/Paris)") != std::string::npos;
        }
    }
    CHECK(skipped);
    // Saturday 2024-07-06 09:00 UTC: all day.
    CHECK(run("casino.example.com", wire::rrtype::A, nullptr, 1720256400).decision ==
          ResolverDecision::BlockedByCategory);
}

TEST_CASE("resolver policies route only queries that still need an upstream") {
    auto ev = run("db.corp.internal");
    CHECK(ev.decision == ResolverDecision::AllowedOnNoPolicyMatch);
    REQUIRE(ev.route.rule != nullptr);
    CHECK(ev.route.kind == Route::Kind::CustomResolvers);
    CHECK(ev.route.key() == "custom:127.0.0.1:5354");
    auto blocked = run("blocked.example.com");
    CHECK(blocked.route.rule == nullptr);
    CHECK(blocked.route.key() == "default");
}

TEST_CASE("post-resolution rules see resolved IPs, MX values and CNAME categories") {
    ResponseFacts bad;
    bad.resolved_ips = {*net::IpAddr::parse("198.51.100.20")};
    auto ev = run("innocent.example.org", wire::rrtype::A, &bad);
    CHECK(ev.decision == ResolverDecision::BlockedRule);
    CHECK(ev.decided_in == Phase::Post);
    CHECK(rule_id(ev) == "a1000000-0000-4000-8000-000000000009");

    ResponseFacts good;
    good.resolved_ips = {*net::IpAddr::parse("192.0.2.1")};
    CHECK(run("innocent.example.org", wire::rrtype::A, &good).decision ==
          ResolverDecision::AllowedOnNoPolicyMatch);

    ResponseFacts mx;
    mx.mx = {"mx1.badmail.example.net"};
    CHECK(run("example.org", wire::rrtype::MX, &mx).decision ==
          ResolverDecision::BlockedByQueryName);
    CHECK(run("example.org", wire::rrtype::TXT, &mx).decision ==
          ResolverDecision::AllowedOnNoPolicyMatch);

    // A CNAME to a malware-categorised name: the security-category rule matches after
    // resolution (ignore_cname_category_matches is off).
    ResponseFacts cname;
    cname.cnames = {"evil-cdn.example.net"};
    auto c = run("www.example.org", wire::rrtype::A, &cname);
    CHECK(c.decision == ResolverDecision::BlockedByCategory);
    CHECK(rule_id(c) == "a1000000-0000-4000-8000-000000000002");
    CHECK(c.cname_categories == std::vector<std::int64_t>{21, 117});
    CHECK(c.matched_categories == std::vector<std::int64_t>{21});
}

TEST_CASE("reference §1.6: a pre-resolution block beats a post-resolution allow with a lower "
          "precedence") {
    PolicyTexts t;
    t.locations = R"j([{"id":"loc","name":"L","networks":[{"network":"127.0.0.0/8"}]}])j";
    t.geo = "cidr,country,continent\n192.0.2.0/24,US,NA\n";
    t.rules = R"j([
      {"id":"allow-country","precedence":1,"action":"allow","filters":["dns"],
       "traffic":"any(dns.dst.geo.country[*] in {\"US\"})"},
      {"id":"block-domain","precedence":2,"action":"block","filters":["dns"],
       "traffic":"any(dns.domains[*] == \"example.com\")"}])j";
    auto set = load_policy_texts(t);
    REQUIRE(set);
    QueryFacts q;
    q.qname = "www.example.com";
    q.location = &(*set)->locations.locations[0];
    Behaviour b;
    EvalOptions opt{0, true};
    auto ev = evaluate_pre(**set, q, b, opt);
    CHECK(ev.decision == ResolverDecision::BlockedByQueryName);
    CHECK(rule_id(ev) == "block-domain");
    CHECK(ev.finished);
    // The allow rule was not considered before resolution.
    CHECK(ev.trace[0].verdict == RuleTrace::Verdict::Skipped);
    CHECK(ev.trace[0].reason.find("post-resolution") != std::string::npos);

    // Another name: resolution happens and the allow matches on the resolved country.
    q.qname = "www.example.org";
    auto ev2 = evaluate_pre(**set, q, b, opt);
    CHECK_FALSE(ev2.finished);
    ResponseFacts r;
    r.resolved_ips = {*net::IpAddr::parse("192.0.2.7")};
    evaluate_post(**set, q, r, b, opt, ev2);
    CHECK(ev2.decision == ResolverDecision::AllowedRule);
    CHECK(rule_id(ev2) == "allow-country");
}

TEST_CASE("precedence ties keep file order; disabled rules are skipped") {
    PolicyTexts t;
    t.locations = R"j([{"id":"loc","name":"L"}])j";
    t.rules = R"j([
      {"id":"first","precedence":5,"action":"block","filters":["dns"],"traffic":"dns.fqdn == \"a.example\""},
      {"id":"second","precedence":5,"action":"allow","filters":["dns"],"traffic":"dns.fqdn == \"a.example\""},
      {"id":"off","precedence":1,"enabled":false,"action":"allow","filters":["dns"],"traffic":"dns.fqdn == \"a.example\""}])j";
    auto set = load_policy_texts(t);
    REQUIRE(set);
    QueryFacts q;
    q.qname = "a.example";
    q.location = &(*set)->locations.locations[0];
    auto ev = evaluate_pre(**set, q, Behaviour{}, EvalOptions{0, true});
    CHECK(rule_id(ev) == "first");
    REQUIRE(ev.trace.size() == 3);
    CHECK(ev.trace[0].rule->id == "off");
    CHECK(ev.trace[0].reason == "disabled");
    CHECK(ev.trace[2].verdict == RuleTrace::Verdict::Skipped);
}

TEST_CASE("identity, request-context categories and source selectors") {
    PolicyTexts t;
    t.locations = R"j([{"id":"loc","name":"L"}])j";
    t.categories = "domain,categories\nadult.example,133\n";
    t.geo = "cidr,country,continent\n10.0.0.0/8,FR,EU\n";
    t.identities = R"j([{"token":"tok1","email":"eve@example.com","name":"Eve",
        "groups":[{"id":"g1","name":"Contractors","email":"c@example.com"}]},
        {"source_ip":"10.9.0.0/16","email":"bob@example.com"}])j";
    t.rules = R"j([
      {"id":"rc","precedence":1,"action":"block","filters":["dns"],"traffic":"dns.categories_in_request_context_matches"},
      {"id":"grp","precedence":2,"action":"block","filters":["dns"],"traffic":"dns.fqdn == \"app.example\"",
       "identity":"any(identity.groups.name[*] in {\"Contractors\"})"},
      {"id":"geo","precedence":3,"action":"block","filters":["dns"],"traffic":"dns.src.geo.country == \"FR\" and dns.query_rtype == \"TXT\""},
      {"id":"bob","precedence":4,"action":"allow","filters":["dns"],"identity":"identity.email == \"bob@example.com\""}])j";
    auto set = load_policy_texts(t);
    REQUIRE_MESSAGE(set, (set ? "" : set.error().detail));
    const auto* loc = &(*set)->locations.locations[0];
    auto eval = [&](std::string_view name, std::uint16_t type, std::string_view token,
                    const char* src, std::optional<std::vector<std::int64_t>> rc = std::nullopt) {
        QueryFacts q;
        q.qname = name;
        q.qtype = type;
        q.location = loc;
        q.identity_token = token;
        q.src_ip = net::IpAddr::parse(src);
        q.request_categories = std::move(rc);
        return evaluate_pre(**set, q, Behaviour{}, EvalOptions{});
    };
    auto rc =
        eval("adult.example", wire::rrtype::A, "", "192.0.2.1", std::vector<std::int64_t>{2, 67});
    CHECK(rule_id(rc) == "rc");
    CHECK(rc.decision == ResolverDecision::BlockedByCategory);
    CHECK(rc.request_context_block);
    CHECK(rc.request_context_categories == std::vector<std::int64_t>{2});
    CHECK(rule_id(eval("adult.example", wire::rrtype::A, "", "192.0.2.1",
                       std::vector<std::int64_t>{8})) == "");
    CHECK(rule_id(eval("app.example", wire::rrtype::A, "tok1", "192.0.2.1")) == "grp");
    CHECK(rule_id(eval("app.example", wire::rrtype::A, "other", "192.0.2.1")) == "");
    CHECK(rule_id(eval("x.example", wire::rrtype::TXT, "", "10.1.2.3")) == "geo");
    CHECK(rule_id(eval("x.example", wire::rrtype::A, "", "10.9.2.3")) == "bob");
    CHECK(parse_request_categories(R"j({"categories":[2,67,125]})j") ==
          std::vector<std::int64_t>{2, 67, 125});
    CHECK_FALSE(parse_request_categories("{"));
}

TEST_CASE("always-blocked categories are blocked before any rule") {
    PolicyTexts t;
    t.locations = R"j([{"id":"loc","name":"L"}])j";
    t.categories = "domain,categories\nbad.example,170\n";
    t.rules = R"j([{"id":"allow-all","precedence":1,"action":"allow","filters":["dns"]}])j";
    auto set = load_policy_texts(t);
    REQUIRE(set);
    QueryFacts q;
    q.qname = "bad.example";
    q.location = &(*set)->locations.locations[0];
    auto ev = evaluate_pre(**set, q, Behaviour{}, EvalOptions{});
    CHECK(ev.decision == ResolverDecision::BlockedAlwaysCategory);
    CHECK(ev.blocked());
    Behaviour off;
    off.always_block = false;
    CHECK(evaluate_pre(**set, q, off, EvalOptions{}).decision ==
          ResolverDecision::AllowedByQueryName);
}

TEST_CASE("response facts are extracted from an upstream message") {
    wire::Message m;
    auto name = *wire::Name::from_text("www.example.org");
    auto target = *wire::Name::from_text("CDN.example.net");
    m.answer.push_back({name, wire::rrtype::CNAME, wire::rrclass::IN, 300, target.wire()});
    m.answer.push_back(
        {target, wire::rrtype::A, wire::rrclass::IN, 300, std::string("\xC6\x33\x64\x14", 4)});
    auto f = ResponseFacts::from_message(m);
    CHECK(f.cnames == std::vector<std::string>{"cdn.example.net"});
    REQUIRE(f.resolved_ips.size() == 1);
    CHECK(f.resolved_ips[0].to_string() == "198.51.100.20");
}

TEST_SUITE_END();
