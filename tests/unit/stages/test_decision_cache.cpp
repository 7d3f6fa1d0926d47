// SPDX-License-Identifier: MIT
// The decision cache: a repeated query reuses the policy verdicts, and every invalidation
// (TTL expiry of the upstream answer, schedule boundary, rule expiry, reload, another
// location or identity) gives a fresh evaluation. Log fields stay exactly as without it.
#include <nlohmann/json.hpp>

#include "resolver/log/query_record.hpp"
#include "tests/unit/stages/stage_lab.hpp"

using namespace stage_lab;
using namespace std::chrono_literals;

namespace {

/// The log record without the fields that differ between two runs of one query anyway.
std::string record_sans_time(const stages::QueryContext& ctx) {
    auto rec = nlohmann::json::parse(resolver::log::render_query_record(ctx));
    for (const char* k : {"Datetime", "ResponseTimeMs", "LabQueryID"}) {
        rec.erase(k);
    }
    return rec.dump();
}

} // namespace

TEST_CASE("decision cache: a repeated query reuses both verdicts") {
    Lab lab(sample_policy());
    lab.upstream("badip.example.com", wire::rrtype::A,
                 answering({"badip.example.com. 300 IN A 192.0.2.66"}));
    auto first = lab.run(query("badip.example.com"));
    auto second = lab.run(query("badip.example.com"));
    CHECK(lab.decisions().stats().misses == 1);
    CHECK(lab.decisions().stats().hits == 1);
    REQUIRE(first.ctx->decision);
    CHECK(second.ctx->decision == first.ctx->decision);
    // The same cached upstream answer: the post-resolution verdict object itself is reused.
    CHECK(second.ctx->upstream_serial == first.ctx->upstream_serial);
    CHECK(second.ctx->evaluation == first.ctx->evaluation);
    CHECK(second.ctx->evaluation->decision == policy::ResolverDecision::BlockedRule);
    CHECK(answers(*second.sent) == std::vector<std::string>{"badip.example.com. 60 A 0.0.0.0"});
}

TEST_CASE("decision cache: every log field is what a fresh evaluation gives") {
    for (const char* name :
         {"badip.example.com", "www.example.com", "blocked.example.com", "portal.example.com"}) {
        CAPTURE(name);
        Lab with(sample_policy());
        Lab without(sample_policy(), true);
        without.env().decisions = nullptr;
        for (Lab* lab : {&with, &without}) {
            lab->upstream(name, wire::rrtype::A,
                          answering({std::string(name) + ". 300 IN A 192.0.2.66"}));
        }
        with.run(query(name));
        without.run(query(name));
        auto a = with.run(query(name));
        auto b = without.run(query(name));
        CHECK(with.decisions().stats().hits == 1);
        CHECK(record_sans_time(*a.ctx) == record_sans_time(*b.ctx));
        CHECK(a.ctx->wire_out == b.ctx->wire_out);
    }
}

TEST_CASE("decision cache: a new upstream answer gets a fresh post-resolution verdict") {
    Lab lab(sample_policy());
    lab.upstream("flip.example.com", wire::rrtype::A,
                 answering({"flip.example.com. 30 IN A 192.0.2.10"}));
    auto ok = lab.run(query("flip.example.com"));
    CHECK(ok.ctx->evaluation->decision == policy::ResolverDecision::AllowedOnNoPolicyMatch);
    // The upstream now answers with a listed bad IP; the cached answer expires first.
    lab.upstream("flip.example.com", wire::rrtype::A,
                 answering({"flip.example.com. 30 IN A 192.0.2.66"}));
    lab.clock().advance(31s);
    auto bad = lab.run(query("flip.example.com"));
    REQUIRE(bad.asked.size() == 1);
    CHECK(bad.ctx->decision == ok.ctx->decision); // pre verdict still valid ...
    CHECK(bad.ctx->upstream_serial != ok.ctx->upstream_serial);
    CHECK(bad.ctx->evaluation->decision == policy::ResolverDecision::BlockedRule); // ... post not
}

TEST_CASE("decision cache: a schedule boundary ends a decision") {
    // #900 blocks gambling (casino.example.com, category 99) on weekday evenings in Paris.
    Lab lab(sample_policy());
    lab.upstream("casino.example.com", wire::rrtype::A,
                 answering({"casino.example.com. 300 IN A 192.0.2.109"}));
    // 2024-07-03 (a Wednesday) 15:59:30 UTC = 17:59:30 in Paris: just before 18:00.
    lab.clock() =
        core::ManualClock(std::chrono::system_clock::time_point(std::chrono::seconds(1720022370)));
    auto before = lab.run(query("casino.example.com"));
    CHECK(before.ctx->evaluation->decision != policy::ResolverDecision::BlockedByCategory);
    lab.clock().advance(20s); // 17:59:50: same minute, same decision
    CHECK(lab.run(query("casino.example.com")).ctx->decision == before.ctx->decision);
    lab.clock().advance(20s); // 18:00:10: the schedule starts
    auto after = lab.run(query("casino.example.com"));
    CHECK(lab.decisions().stats().expired == 1);
    CHECK(after.ctx->evaluation->decision == policy::ResolverDecision::BlockedByCategory);
}

TEST_CASE("decision cache: a rule expiring ends the decisions it could change") {
    const std::string rules = R"json([
      {"id": "soon", "name": "soon gone", "precedence": 1, "enabled": true, "action": "block",
       "filters": ["dns"], "traffic": "dns.fqdn == \"www.example.com\"",
       "expiration": {"expires_at": "2024-07-03T10:00:30Z"}}
    ])json";
    Lab lab(policy_from({{"rules", rules}}));
    lab.upstream("www.example.com", wire::rrtype::A,
                 answering({"www.example.com. 300 IN A 192.0.2.10"}));
    lab.clock() = core::ManualClock(
        std::chrono::system_clock::time_point(std::chrono::seconds(1720000800))); // 10:00:00
    auto blocked = lab.run(query("www.example.com"));
    CHECK(blocked.ctx->evaluation->decision == policy::ResolverDecision::BlockedByQueryName);
    lab.clock().advance(31s);
    auto allowed = lab.run(query("www.example.com"));
    CHECK(allowed.ctx->evaluation->decision == policy::ResolverDecision::AllowedOnNoPolicyMatch);
}

TEST_CASE("decision cache: a reload, another location or another token is another decision") {
    Lab lab(sample_policy());
    lab.upstream("www.example.com", wire::rrtype::A,
                 answering({"www.example.com. 300 IN A 192.0.2.10"}));
    auto hq = lab.run(query("www.example.com"), udp_from("127.0.0.9"));
    auto branch = lab.run(query("www.example.com"), udp_from("127.0.1.9"));
    CHECK(branch.ctx->decision != hq.ctx->decision);
    CHECK(branch.ctx->location.location->name == "Branch");
    auto doh = stream(net::Transport::Https);
    doh.http_host = "hq7x2k9m1a.cloudflare-gateway.com";
    doh.http_authorization = "token-a";
    auto a = lab.run(query("www.example.com"), doh);
    doh.http_authorization = "token-b";
    auto b = lab.run(query("www.example.com"), doh);
    CHECK(a.ctx->decision != b.ctx->decision);
    auto reloaded = sample_policy();
    std::const_pointer_cast<stages::PolicySnapshot>(reloaded)->generation = 2;
    lab.env().policy = reloaded;
    auto after = lab.run(query("www.example.com"), udp_from("127.0.0.9"));
    CHECK(after.ctx->decision != hq.ctx->decision);
    CHECK(lab.decisions().stats().hits == 0);
}

TEST_CASE("decision cache: bounded, the older half kept and promoted on use") {
    stages::DecisionCache cache(4);
    Lab lab(sample_policy());
    lab.env().decisions = &cache;
    for (int i = 0; i < 10; ++i) {
        const std::string name = "n" + std::to_string(i) + ".example.com";
        lab.upstream(name, wire::rrtype::A, answering({name + ". 300 IN A 192.0.2.10"}));
        lab.run(query(name));
        CHECK(cache.size() <= 6);
    }
    lab.run(query("n9.example.com"));
    CHECK(cache.stats().hits == 1);
}

namespace {

/// Every key in one bucket: only the key comparison keeps decisions apart.
std::uint64_t colliding_hash(const stages::DecisionKey& /*key*/) noexcept {
    return 42;
}

wire::Message with_categories(wire::Message q, const std::string& payload) {
    q.edns->options.push_back({wire::edns_opt::RequestCategories, payload});
    return q;
}

} // namespace

TEST_CASE("decision cache: equal hashes never share a decision") {
    // Two names with equal hashes, one blocked and one not: each keeps its own verdict.
    stages::DecisionCache cache(100, &colliding_hash);
    Lab lab(sample_policy());
    lab.env().decisions = &cache;
    lab.upstream("www.example.com", wire::rrtype::A,
                 answering({"www.example.com. 300 IN A 192.0.2.10"}));
    lab.upstream("blocked.example.com", wire::rrtype::A,
                 answering({"blocked.example.com. 300 IN A 192.0.2.11"}));
    auto allowed = lab.run(query("www.example.com"));
    auto blocked = lab.run(query("blocked.example.com"));
    CHECK(cache.stats().misses == 2);
    CHECK(blocked.ctx->decision != allowed.ctx->decision);
    CHECK(allowed.ctx->evaluation->decision == policy::ResolverDecision::AllowedOnNoPolicyMatch);
    CHECK(blocked.ctx->evaluation->decision == policy::ResolverDecision::BlockedByQueryName);
    auto allowed2 = lab.run(query("www.example.com"));
    auto blocked2 = lab.run(query("blocked.example.com"));
    CHECK(cache.stats().hits == 2);
    CHECK(allowed2.ctx->decision == allowed.ctx->decision);
    CHECK(blocked2.ctx->decision == blocked.ctx->decision);
    CHECK(answers(*allowed2.sent) == std::vector<std::string>{"www.example.com. 300 A 192.0.2.10"});
}

TEST_CASE("decision cache: a query differing in any key field is another decision") {
    struct Variant {
        const char* what;
        wire::Message q;
        net::TransportInfo t;
    };
    const auto base_q = query("www.example.com");
    const auto base_t = udp_from("127.0.0.9");
    auto q_do = base_q;
    q_do.edns->dnssec_ok = true;
    auto q_cd = base_q;
    q_cd.set_flag(wire::kFlagCd, true);
    auto q_ad = base_q;
    q_ad.set_flag(wire::kFlagAd, true);
    auto q_internal = base_t;
    q_internal.src_internal_ip = net::IpAddr::parse("10.0.0.7");
    auto doh = stream(net::Transport::Https, "127.0.0.9");
    doh.http_host = "hq7x2k9m1a.cloudflare-gateway.com";
    auto doh_token = doh;
    doh_token.http_authorization = "token-a";
    std::vector<Variant> variants = {
        {"name", query("www2.example.com"), base_t},
        {"qtype", query("www.example.com", wire::rrtype::AAAA), base_t},
        {"no EDNS", query("www.example.com", wire::rrtype::A, 0), base_t},
        {"DO", q_do, base_t},
        {"CD", q_cd, base_t},
        {"AD", q_ad, base_t},
        {"source address", base_q, udp_from("127.0.0.10")},
        {"destination address", base_q, udp_from("127.0.0.9", "127.0.0.2")},
        {"source address family", base_q, udp_from("::ffff:127.0.0.9")},
        {"private source address", base_q, q_internal},
        {"DoH subdomain and location", base_q, doh},
        {"categories", with_categories(base_q, R"({"categories":[2,67]})"), base_t},
        {"other categories", with_categories(base_q, R"({"categories":[2]})"), base_t},
    };
    for (const auto& v : variants) {
        const std::string what = v.what;
        CAPTURE(what);
        stages::DecisionCache cache(100, &colliding_hash);
        Lab lab(sample_policy());
        lab.env().decisions = &cache;
        for (const char* name : {"www.example.com", "www2.example.com"}) {
            for (auto type : {wire::rrtype::A, wire::rrtype::AAAA}) {
                lab.upstream(name, type, answering({std::string(name) + ". 300 IN A 192.0.2.10"}));
            }
        }
        // The base with a token against the base without one, then the variant against both.
        auto token_a = lab.run(base_q, doh_token);
        auto base = lab.run(base_q, base_t);
        auto variant = lab.run(v.q, v.t);
        CHECK(cache.stats().misses == 3);
        CHECK(cache.stats().hits == 0);
        CHECK(variant.ctx->decision != base.ctx->decision);
        CHECK(variant.ctx->decision != token_a.ctx->decision);
        // Each finds its own again.
        CHECK(lab.run(base_q, base_t).ctx->decision == base.ctx->decision);
        CHECK(lab.run(v.q, v.t).ctx->decision == variant.ctx->decision);
        CHECK(lab.run(base_q, doh_token).ctx->decision == token_a.ctx->decision);
        CHECK(cache.stats().hits == 3);
    }
}
