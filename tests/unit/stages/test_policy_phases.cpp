// SPDX-License-Identifier: MIT
// Gateway's phases through the stages, on the sample export (fixtures/policy): phase order,
// local answers, the override/safe-search target detour, post-resolution rules on cache hits,
// and location attribution.
#include "tests/unit/stages/stage_lab.hpp"

using namespace stage_lab;

namespace {
const policy::Evaluation& ev(const Outcome& o) {
    REQUIRE(o.ctx->evaluation);
    return *o.ctx->evaluation;
}
} // namespace

TEST_CASE("stages: a pre-resolution block is answered locally without asking upstream") {
    Lab lab(sample_policy());
    auto o = lab.run(query("blocked.example.com")); // list 0002, block page off
    REQUIRE(o.sent);
    CHECK(o.asked.empty());
    CHECK(o.ctx->source == stages::AnswerSource::Local);
    CHECK(ev(o).decision == policy::ResolverDecision::BlockedByQueryName);
    CHECK(answers(*o.sent) == std::vector<std::string>{"blocked.example.com. 60 A 0.0.0.0"});
    CHECK(o.sent->flag(wire::kFlagRa));
    CHECK_FALSE(o.sent->flag(wire::kFlagAa));
    // Other types of a blocked name are REFUSED.
    auto mx = lab.run(query("blocked.example.com", wire::rrtype::MX));
    CHECK(mx.sent->rcode() == wire::rcode::Refused);
}

TEST_CASE("stages: an account maximum TTL does not touch local answers") {
    Lab lab(sample_policy(60));
    auto o = lab.run(query("portal.example.com")); // override_ips
    REQUIRE(o.sent);
    CHECK(answers(*o.sent) == std::vector<std::string>{"portal.example.com. 60 A 192.0.2.10"});
    CHECK(o.ctx->applied_max_ttl == 0);
}

TEST_CASE("stages: override_host resolves the target along the route and completes the answer") {
    Lab lab(sample_policy());
    lab.upstream("www.example.net", wire::rrtype::A,
                 answering({"www.example.net. 300 IN A 192.0.2.20"}));
    auto o = lab.run(query("alias.example.com"));
    REQUIRE(o.asked.size() == 1);
    CHECK(o.asked[0].purpose == stages::UpstreamRequest::Purpose::Target);
    CHECK(o.asked[0].question.qname.to_gateway_text() == "www.example.net");
    REQUIRE(o.sent);
    CHECK(answers(*o.sent) ==
          std::vector<std::string>{"alias.example.com. 60 CNAME www.example.net.",
                                   "www.example.net. 300 A 192.0.2.20"});
    CHECK(ev(o).decision == policy::ResolverDecision::OverrideApplied);
    // The detour's answer is not the query's upstream truth: nothing is cached for it.
    CHECK(lab.cache().size() == 0);
    // A failing target is SERVFAIL, not a half answer.
    Lab broken(sample_policy());
    auto f = broken.run(query("alias.example.com"));
    REQUIRE(f.sent);
    CHECK(f.sent->rcode() == wire::rcode::ServFail);
}

TEST_CASE("stages: safe search answers with the engine's safe host") {
    Lab lab(sample_policy());
    lab.upstream("forcesafesearch.google.com", wire::rrtype::A,
                 answering({"forcesafesearch.google.com. 300 IN A 216.239.38.120"}));
    auto o = lab.run(query("www.google.com"));
    REQUIRE(o.asked.size() == 1);
    CHECK(o.asked[0].question.qname.to_gateway_text() == "forcesafesearch.google.com");
    CHECK(ev(o).decision == policy::ResolverDecision::OverrideForSafeSearch);
    CHECK(answers(*o.sent) ==
          std::vector<std::string>{"www.google.com. 60 CNAME forcesafesearch.google.com.",
                                   "forcesafesearch.google.com. 300 A 216.239.38.120"});
}

TEST_CASE("stages: post-resolution rules block on resolved IPs, on misses and cache hits") {
    Lab lab(sample_policy());
    lab.upstream("badip.example.com", wire::rrtype::A,
                 answering({"badip.example.com. 300 IN A 192.0.2.66"}));
    auto miss = lab.run(query("badip.example.com"));
    REQUIRE(miss.asked.size() == 1);
    CHECK(ev(miss).decision == policy::ResolverDecision::BlockedRule);
    CHECK(ev(miss).decided_in == policy::Phase::Post);
    CHECK(answers(*miss.sent) == std::vector<std::string>{"badip.example.com. 60 A 0.0.0.0"});
    // The cache stored the upstream truth before post-resolution policy saw it ...
    CHECK(lab.cache().size() == 1);
    auto hit = lab.run(query("badip.example.com"));
    CHECK(hit.asked.empty());
    CHECK(hit.ctx->source == stages::AnswerSource::Cache);
    // ... and post-resolution policy runs again on the hit.
    CHECK(ev(hit).decision == policy::ResolverDecision::BlockedRule);
    CHECK(answers(*hit.sent) == std::vector<std::string>{"badip.example.com. 60 A 0.0.0.0"});
}

TEST_CASE("stages: of two matching post-resolution rules the lower precedence wins") {
    const std::string rules = R"json([
      {"id": "post-late", "name": "late", "precedence": 200, "enabled": true, "action": "block",
       "filters": ["dns"], "traffic": "any(dns.resolved_ips[*] in {192.0.2.66})",
       "rule_settings": {"block_page_enabled": false}},
      {"id": "post-early", "name": "early", "precedence": 100, "enabled": true, "action": "block",
       "filters": ["dns"], "traffic": "any(dns.resolved_ips[*] in {192.0.2.0/24})",
       "rule_settings": {"block_page_enabled": true}}
    ])json";
    Lab lab(policy_from({{"rules", rules}}));
    lab.upstream("badip.example.com", wire::rrtype::A,
                 answering({"badip.example.com. 300 IN A 192.0.2.66"}));
    auto o = lab.run(query("badip.example.com"));
    REQUIRE(ev(o).rule != nullptr);
    CHECK(ev(o).rule->id == "post-early");
    CHECK(answers(*o.sent) == std::vector<std::string>{"badip.example.com. 60 A 162.159.36.12",
                                                       "badip.example.com. 60 A 162.159.46.12"});
}

TEST_CASE("stages: a pre-resolution allow stops post-resolution rules") {
    Lab lab(sample_policy());
    // corp.example.com is in the allow list (#100); even an answer with a listed bad IP passes.
    lab.upstream("corp.example.com", wire::rrtype::A,
                 answering({"corp.example.com. 300 IN A 192.0.2.66"}));
    auto o = lab.run(query("corp.example.com"));
    CHECK(ev(o).decision == policy::ResolverDecision::AllowedByQueryName);
    CHECK(answers(*o.sent) == std::vector<std::string>{"corp.example.com. 300 A 192.0.2.66"});
}

TEST_CASE("stages: a resolver rule routes the query and keys the cache on the route") {
    Lab lab(sample_policy());
    lab.upstream("app.corp.internal", wire::rrtype::A,
                 answering({"app.corp.internal. 300 IN A 10.0.0.5"}));
    lab.upstream("www.example.com", wire::rrtype::A,
                 answering({"www.example.com. 300 IN A 192.0.2.10"}));
    auto o = lab.run(query("app.corp.internal"));
    REQUIRE(o.asked.size() == 1);
    REQUIRE(o.asked[0].route != nullptr);
    CHECK(o.asked[0].route->kind == policy::Route::Kind::CustomResolvers);
    CHECK(o.ctx->route.rfind("custom:", 0) == 0);
    CHECK_FALSE(o.ctx->custom_resolver_address.empty());
    auto plain = lab.run(query("www.example.com"));
    CHECK(plain.asked[0].route_key == "default");
}

TEST_CASE("stages: attribution on Do53: the source network decides before EDNS 65011") {
    Lab lab(sample_policy());
    lab.upstream("www.example.com", wire::rrtype::A,
                 answering({"www.example.com. 300 IN A 192.0.2.10"}));
    auto q = query("www.example.com");
    q.edns->options.push_back({wire::edns_opt::Location, "br4nch0b2c"});
    auto hq = lab.run(q, udp_from("127.0.0.9"));
    REQUIRE(hq.ctx->location.location != nullptr);
    CHECK(hq.ctx->location.location->name == "HQ");
    CHECK(hq.ctx->location.reason == "src-network:127.0.0.0/24");
    // From outside every network, the EDNS hint decides.
    auto outside = lab.run(q, udp_from("10.9.9.9"));
    REQUIRE(outside.ctx->location.location != nullptr);
    CHECK(outside.ctx->location.location->name == "Branch");
    // A dedicated destination address decides before the source network.
    auto dst = lab.run(query("www.example.com"), udp_from("127.0.0.9", "127.0.2.53"));
    CHECK(dst.ctx->location.location->name == "Branch");
}

TEST_CASE("stages: attribution on DoH and DoT from host, path, header and SNI") {
    Lab lab(sample_policy());
    lab.upstream("www.example.com", wire::rrtype::A,
                 answering({"www.example.com. 300 IN A 192.0.2.10"}));
    auto doh = stream(net::Transport::Https);
    doh.http_host = "br4nch0b2c.cloudflare-gateway.com";
    doh.http_path = "/dns-query";
    CHECK(lab.run(query("www.example.com"), doh).ctx->location.reason == "doh-host:br4nch0b2c");
    doh.http_host = "127.0.0.1";
    doh.http_path = "/dns-query/hq7x2k9m1a";
    CHECK(lab.run(query("www.example.com"), doh).ctx->location.reason == "doh-path:hq7x2k9m1a");
    doh.http_path = "/dns-query";
    doh.http_location = "br4nch0b2c";
    CHECK(lab.run(query("www.example.com"), doh).ctx->location.reason == "doh-header:br4nch0b2c");
    auto dot = stream(net::Transport::Tls);
    dot.sni = "br4nch0b2c.cloudflare-gateway.com";
    auto o = lab.run(query("www.example.com"), dot);
    CHECK(o.ctx->location.reason == "dot-sni:br4nch0b2c");
    CHECK(o.ctx->location.dot_subdomain == "br4nch0b2c");
    // DoH with no hint at all: the WARP default location.
    auto bare = stream(net::Transport::Https);
    bare.http_host = "127.0.0.1";
    bare.http_path = "/dns-query";
    CHECK(lab.run(query("www.example.com"), bare).ctx->location.reason == "client-default");
}

TEST_CASE("stages: a DoH-only rule blocks over DoH and not over plain DNS") {
    Lab lab(sample_policy());
    lab.upstream("doh-blocked.example.com", wire::rrtype::A,
                 answering({"doh-blocked.example.com. 300 IN A 192.0.2.77"}));
    auto doh = stream(net::Transport::Https);
    doh.http_host = "r0am1ng3d4.cloudflare-gateway.com";
    doh.http_path = "/dns-query";
    auto blocked = lab.run(query("doh-blocked.example.com"), doh);
    CHECK(ev(blocked).decision == policy::ResolverDecision::BlockedByQueryName);
    CHECK(blocked.asked.empty());
    auto plain = lab.run(query("doh-blocked.example.com"), udp_from("127.0.0.9"));
    CHECK(answers(*plain.sent) ==
          std::vector<std::string>{"doh-blocked.example.com. 300 A 192.0.2.77"});
}
