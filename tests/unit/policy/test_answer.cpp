// SPDX-License-Identifier: MIT
#include <doctest/doctest.h>

#include "resolver/policy/answer.hpp"
#include "resolver/policy/load.hpp"

using namespace resolver::policy;
namespace wire = resolver::wire;

namespace {

wire::Message query(std::string_view name, std::uint16_t type, bool edns = false) {
    wire::Message m;
    m.id = 0x1234;
    m.set_flag(wire::kFlagRd, true);
    m.question.push_back({*wire::Name::from_text(name), type, wire::rrclass::IN});
    if (edns) {
        m.edns.emplace();
    }
    return m;
}

/// A one-rule set and the Evaluation of `name` against it.
struct Fixture {
    PolicySetPtr set;
    Evaluation ev;
    Fixture(const std::string& rule_json, std::string_view name, std::uint16_t type,
            std::string categories = "") {
        PolicyTexts t;
        t.locations = R"j([{"id":"loc","name":"L"}])j";
        t.rules = "[" + rule_json + "]";
        t.categories = std::move(categories);
        auto r = load_policy_texts(t);
        REQUIRE_MESSAGE(r, (r ? "" : r.error().detail));
        set = *r;
        QueryFacts q;
        q.qname = name;
        q.qtype = type;
        q.location = &set->locations.locations[0];
        q.request_categories = std::vector<std::int64_t>{117};
        ev = evaluate_pre(*set, q, Behaviour{}, EvalOptions{});
    }
};

std::vector<std::uint8_t> bytes(std::initializer_list<int> v) {
    std::vector<std::uint8_t> out;
    for (int b : v) {
        out.push_back(static_cast<std::uint8_t>(b));
    }
    return out;
}

std::vector<std::string> addresses(const wire::Message& m) {
    std::vector<std::string> out;
    for (const auto& rr : m.answer) {
        out.push_back(wire::address_text(rr));
    }
    return out;
}

const char* kBlock =
    R"j({"id":"b","action":"block","filters":["dns"],"traffic":"dns.fqdn == \"a.example\""})j";
const char* kBlockPage =
    R"j({"id":"b","action":"block","filters":["dns"],"traffic":"dns.fqdn == \"a.example\"","rule_settings":{"block_page_enabled":true}})j";

} // namespace

TEST_SUITE_BEGIN("policy.answer");

TEST_CASE("block without block page: A 0.0.0.0 TTL 60, byte for byte") {
    Fixture f(kBlock, "a.example", wire::rrtype::A);
    auto ans = synthesize(query("a.example", wire::rrtype::A), f.ev, Behaviour{});
    REQUIRE(ans);
    CHECK_FALSE(ans->pending_target);
    auto wire_bytes = wire::serialize(ans->message);
    CHECK(wire_bytes == bytes({0x12, 0x34, 0x81, 0x80, 0,   1,   0,   1, 0, 0, 0, 0, 1,    'a',  7,
                               'e',  'x',  'a',  'm',  'p', 'l', 'e', 0, 0, 1, 0, 1, 0xc0, 0x0c, 0,
                               1,    0,    1,    0,    0,   0,   60,  0, 4, 0, 0, 0, 0}));
}

TEST_CASE("block answers per query type, block page on and off") {
    struct Row {
        const char* rule;
        std::uint16_t type;
        std::uint16_t rcode;
        std::vector<std::string> addrs;
    };
    const Row rows[] = {
        {kBlock, wire::rrtype::AAAA, wire::rcode::NoError, {"::"}},
        {kBlock, wire::rrtype::MX, wire::rcode::Refused, {}},
        {kBlock, wire::rrtype::TXT, wire::rcode::Refused, {}},
        {kBlock, wire::rrtype::HTTPS, wire::rcode::Refused, {}},
        {kBlockPage, wire::rrtype::A, wire::rcode::NoError, {"162.159.36.12", "162.159.46.12"}},
        {kBlockPage, wire::rrtype::AAAA, wire::rcode::NoError, {"::"}},
        {kBlockPage, wire::rrtype::MX, wire::rcode::Refused, {}},
    };
    for (const auto& row : rows) {
        CAPTURE(row.type);
        Fixture f(row.rule, "a.example", row.type);
        auto ans = synthesize(query("a.example", row.type), f.ev, Behaviour{});
        REQUIRE(ans);
        CHECK(ans->message.rcode() == row.rcode);
        CHECK(addresses(ans->message) == row.addrs);
        for (const auto& rr : ans->message.answer) {
            CHECK(rr.ttl == 60);
        }
        CHECK(ans->message.edes().empty());
    }
    Behaviour historic;
    historic.block_refused_all_types = true;
    Fixture f(kBlock, "a.example", wire::rrtype::A);
    auto ans = synthesize(query("a.example", wire::rrtype::A), f.ev, historic);
    REQUIRE(ans);
    CHECK(ans->message.rcode() == wire::rcode::Refused);
    CHECK(ans->message.answer.empty());
}

TEST_CASE("request-context category blocks carry EDE 15 with the category IDs") {
    Fixture f(
        R"j({"id":"rc","action":"block","filters":["dns"],"traffic":"dns.categories_in_request_context_matches"})j",
        "m.example", wire::rrtype::A, "domain,categories\nm.example,117\n");
    REQUIRE(f.ev.request_context_block);
    auto ans = synthesize(query("m.example", wire::rrtype::A, true), f.ev, Behaviour{});
    REQUIRE(ans);
    auto edes = ans->message.edes();
    REQUIRE(edes.size() == 1);
    CHECK(edes[0].code == 15);
    CHECK(edes[0].text == R"j({"categories":[117]})j");
    // Without EDNS in the query there is no OPT to carry it (RFC 6891 §7).
    auto plain = synthesize(query("m.example", wire::rrtype::A, false), f.ev, Behaviour{});
    REQUIRE(plain);
    CHECK_FALSE(plain->message.edns);
    // Ordinary blocks: configurable code and text.
    Fixture g(kBlock, "a.example", wire::rrtype::A);
    Behaviour b;
    b.block_ede_code = 17;
    b.block_ede_text = "blocked by {rule}";
    auto ede = synthesize(query("a.example", wire::rrtype::A, true), g.ev, b);
    REQUIRE(ede);
    REQUIRE(ede->message.edes().size() == 1);
    CHECK(ede->message.edes()[0].code == 17);
    CHECK(ede->message.edes()[0].text == "blocked by b");
}

TEST_CASE("override with IPs answers the matching family, REFUSED for other types") {
    const char* rule =
        R"j({"id":"o","action":"override","filters":["dns"],"traffic":"dns.fqdn == \"o.example\"","rule_settings":{"override_ips":["192.0.2.10","2001:db8::10"]}})j";
    struct Row {
        std::uint16_t type;
        std::uint16_t rcode;
        std::vector<std::string> addrs;
    };
    const Row rows[] = {
        {wire::rrtype::A, wire::rcode::NoError, {"192.0.2.10"}},
        {wire::rrtype::AAAA, wire::rcode::NoError, {"2001:db8::10"}},
        {wire::rrtype::HTTPS, wire::rcode::NoError, {}},
        {wire::rrtype::MX, wire::rcode::Refused, {}},
    };
    for (const auto& row : rows) {
        Fixture f(rule, "o.example", row.type);
        CHECK(f.ev.decision == ResolverDecision::OverrideApplied);
        auto ans = synthesize(query("o.example", row.type), f.ev, Behaviour{});
        REQUIRE(ans);
        CHECK(ans->message.rcode() == row.rcode);
        CHECK(addresses(ans->message) == row.addrs);
    }
}

TEST_CASE("override_host and safe search answer with a CNAME and a target to resolve") {
    Fixture f(
        R"j({"id":"o","action":"override","filters":["dns"],"traffic":"dns.fqdn == \"alias.example\"","rule_settings":{"override_host":"www.example.net"}})j",
        "alias.example", wire::rrtype::A);
    auto ans = synthesize(query("alias.example", wire::rrtype::A), f.ev, Behaviour{});
    REQUIRE(ans);
    REQUIRE(ans->message.answer.size() == 1);
    CHECK(ans->message.answer[0].type == wire::rrtype::CNAME);
    CHECK(wire::rdata_target(ans->message.answer[0])->to_text() == "www.example.net.");
    REQUIRE(ans->pending_target);
    CHECK(ans->pending_target->to_text() == "www.example.net.");
    wire::Message target;
    target.answer.push_back({*wire::Name::from_text("www.example.net"), wire::rrtype::A,
                             wire::rrclass::IN, 300, std::string("\xC0\x00\x02\x05", 4)});
    complete_answer(*ans, target);
    CHECK(addresses(ans->message) == std::vector<std::string>{"", "192.0.2.5"});

    Behaviour flat;
    flat.override_host_mode = "flatten";
    auto fl = synthesize(query("alias.example", wire::rrtype::A), f.ev, flat);
    REQUIRE(fl);
    CHECK(fl->message.answer.empty());
    complete_answer(*fl, target);
    REQUIRE(fl->message.answer.size() == 1);
    CHECK(fl->message.answer[0].name.to_text() == "alias.example.");

    Fixture s(
        R"j({"id":"s","action":"safesearch","filters":["dns"],"traffic":"any(dns.domains[*] == \"google.com\")"})j",
        "www.google.com", wire::rrtype::AAAA);
    auto ss = synthesize(query("www.google.com", wire::rrtype::AAAA), s.ev, Behaviour{});
    REQUIRE(ss);
    CHECK(wire::rdata_target(ss->message.answer[0])->to_text() == "forcesafesearch.google.com.");
    CHECK(ss->message.answer[0].ttl == 60);
    Fixture y(
        R"j({"id":"y","action":"ytrestricted","filters":["dns"],"traffic":"any(dns.domains[*] == \"youtube.com\")"})j",
        "m.youtube.com", wire::rrtype::A);
    auto yt = synthesize(query("m.youtube.com", wire::rrtype::A), y.ev, Behaviour{});
    REQUIRE(yt);
    CHECK(wire::rdata_target(yt->message.answer[0])->to_text() == "restrict.youtube.com.");
    // Not a YouTube name: nothing to rewrite.
    Fixture y2(
        R"j({"id":"y","action":"ytrestricted","filters":["dns"],"traffic":"any(dns.domains[*] == \"youtube.com\")"})j",
        "music.youtube.com", wire::rrtype::A);
    CHECK_FALSE(synthesize(query("music.youtube.com", wire::rrtype::A), y2.ev, Behaviour{}));
}

TEST_CASE("behaviour settings parse from TOML and render as JSON") {
    auto b = parse_behaviour_toml("[behaviour]\ngenerated_ttl = 30\nblock_page_ipv6 = []\n"
                                  "override_host_mode = \"flatten\"\n");
    REQUIRE(b);
    CHECK(b->generated_ttl == 30);
    CHECK(b->block_page_ipv6.empty());
    CHECK(b->override_host_mode == "flatten");
    CHECK(b->to_json().find("\"generated_ttl\":30") != std::string::npos);
    auto bare = parse_behaviour_toml("regex_anchored = true\n");
    REQUIRE(bare);
    CHECK(bare->regex_anchored);
    auto bad = parse_behaviour_toml("[behaviour]\nno_such = 1\n");
    REQUIRE_FALSE(bad);
    CHECK(bad.error().detail.find("no_such") != std::string::npos);
    auto badv = parse_behaviour_toml("[behaviour]\noverride_host_mode = \"x\"\n");
    REQUIRE_FALSE(badv);
    CHECK(parse_behaviour_toml("").has_value());
}

// toml++'s value<int64_t>() on a float ran an out-of-range cast (UB; found by
// fuzz_expectations in the same toml++ call): integer settings take integers only.
TEST_CASE("integer behaviour settings refuse floats, huge ones included") {
    for (const char* v : {"generated_ttl = 2.2e20", "generated_ttl = 60.0",
                          "always_block_categories = [31, 1e300]"}) {
        auto b = parse_behaviour_toml(std::string("[behaviour]\n") + v + "\n");
        REQUIRE_FALSE(b);
        CHECK(b.error().detail.rfind("[behaviour] ", 0) == 0);
    }
}

TEST_SUITE_END();
