// SPDX-License-Identifier: MIT
// Upstream answers through the stages: flags, cache, TTL caps, EDE, truncation, DNSSEC.
#include "tests/unit/stages/stage_lab.hpp"

using namespace stage_lab;
using namespace std::chrono_literals;

namespace {
const char* kSoa = "example.com. 300 IN SOA ns.example.com. host.example.com. 1 7200 3600 "
                   "1209600 300";
}

TEST_CASE("stages: an allowed answer keeps the client's ID and case, sets RA, never AA") {
    Lab lab;
    lab.upstream("www.example.com", wire::rrtype::A,
                 answering({"www.example.com. 300 IN A 192.0.2.10"}));
    auto q = query("WwW.Example.COM");
    auto o = lab.run(q);
    REQUIRE(o.sent);
    REQUIRE(o.asked.size() == 1);
    CHECK(o.asked[0].id == 0x1111); // from the Rng, never the client's 0x1234
    CHECK(o.sent->id == 0x1234);
    CHECK(o.sent->question[0].qname.to_text() == "WwW.Example.COM.");
    CHECK(o.sent->flag(wire::kFlagQr));
    CHECK(o.sent->flag(wire::kFlagRd));
    CHECK(o.sent->flag(wire::kFlagRa));
    CHECK_FALSE(o.sent->flag(wire::kFlagAa));
    // The owner name is compressed against the question, so it carries the client's case too.
    CHECK(answers(*o.sent) == std::vector<std::string>{"WwW.Example.COM. 300 A 192.0.2.10"});
    CHECK(o.ctx->source == stages::AnswerSource::Upstream);
    CHECK(o.ctx->upstream_ttls == std::vector<std::uint32_t>{300});
}

TEST_CASE("stages: a cache hit ages every section, the negative answer's SOA included") {
    Lab lab;
    lab.upstream("www.example.com", wire::rrtype::A,
                 answering({"www.example.com. 300 IN A 192.0.2.10"}));
    lab.upstream("nx.example.com", wire::rrtype::A, negative(wire::rcode::NxDomain, {kSoa}));
    lab.run(query("www.example.com"));
    lab.run(query("nx.example.com"));
    lab.clock().advance(100s);
    auto hit = lab.run(query("www.example.com"));
    REQUIRE(hit.sent);
    CHECK(hit.asked.empty());
    CHECK(hit.ctx->source == stages::AnswerSource::Cache);
    CHECK(hit.ctx->cache_age_s == 100);
    CHECK(answers(*hit.sent) == std::vector<std::string>{"www.example.com. 200 A 192.0.2.10"});
    auto nx = lab.run(query("nx.example.com"));
    REQUIRE(nx.sent);
    CHECK(nx.asked.empty());
    CHECK(nx.sent->rcode() == wire::rcode::NxDomain);
    REQUIRE(nx.sent->authority.size() == 1);
    CHECK(nx.sent->authority[0].ttl == 200);
    CHECK(stages::freshness_lifetime(*nx.sent) == 200);
}

TEST_CASE("stages: the account's maximum TTL caps the answer, the cache keeps the truth") {
    Lab lab(sample_policy(60));
    lab.upstream("www.example.com", wire::rrtype::A,
                 answering({"www.example.com. 300 IN A 192.0.2.10"}));
    auto o = lab.run(query("www.example.com"));
    REQUIRE(o.sent);
    CHECK(answers(*o.sent) == std::vector<std::string>{"www.example.com. 60 A 192.0.2.10"});
    CHECK(o.ctx->applied_max_ttl == 60);
    CHECK(o.ctx->upstream_ttls == std::vector<std::uint32_t>{300});
    lab.clock().advance(10s);
    auto hit = lab.run(query("www.example.com"));
    REQUIRE(hit.sent);
    CHECK(hit.ctx->source == stages::AnswerSource::Cache);
    CHECK(hit.ctx->upstream_ttls == std::vector<std::uint32_t>{290});
    CHECK(answers(*hit.sent) == std::vector<std::string>{"www.example.com. 60 A 192.0.2.10"});
}

TEST_CASE("stages: a location's max_ttl overrides or disables the account's cap") {
    auto snap = policy_from(
        {{"locations", locations_with_max_ttl({{"HQ", R"({"mode": "override", "ttl_secs": 120})"},
                                               {"Branch", R"({"mode": "disabled"})"}})}},
        60);
    Lab lab(snap);
    lab.upstream("www.example.com", wire::rrtype::A,
                 answering({"www.example.com. 300 IN A 192.0.2.10"}));
    auto hq = lab.run(query("www.example.com"), udp_from("127.0.0.9"));
    CHECK(hq.ctx->location.location->name == "HQ");
    CHECK(answers(*hq.sent) == std::vector<std::string>{"www.example.com. 120 A 192.0.2.10"});
    auto branch = lab.run(query("www.example.com"), udp_from("127.0.1.9"));
    CHECK(branch.ctx->location.location->name == "Branch");
    CHECK(answers(*branch.sent) == std::vector<std::string>{"www.example.com. 300 A 192.0.2.10"});
    CHECK(branch.ctx->applied_max_ttl == 0);
}

TEST_CASE("stages: upstream failures are SERVFAIL with EDE 22 or 23 naming what happened") {
    Lab lab;
    lab.upstream("slow.example.com", wire::rrtype::A,
                 failing(Errc::UpstreamTimeout, "udp://192.0.2.53:53 timed out"));
    lab.upstream("down.example.com", wire::rrtype::A,
                 failing(Errc::UpstreamFailure, "udp://192.0.2.53:53 refused"));
    auto slow = lab.run(query("slow.example.com"));
    REQUIRE(slow.sent);
    CHECK(slow.sent->rcode() == wire::rcode::ServFail);
    REQUIRE(slow.sent->edes().size() == 1);
    CHECK(slow.sent->edes()[0].code == 22);
    CHECK(slow.sent->edes()[0].text == "udp://192.0.2.53:53 timed out");
    auto down = lab.run(query("down.example.com"));
    REQUIRE(down.sent);
    CHECK(down.sent->edes()[0].code == 23);
    CHECK(down.ctx->ede_codes == std::vector<std::uint16_t>{23});
    // Without EDNS in the query there is nowhere to put an EDE (RFC 6891 §7).
    auto plain = lab.run(query("down.example.com", wire::rrtype::A, 0));
    REQUIRE(plain.sent);
    CHECK(plain.sent->rcode() == wire::rcode::ServFail);
    CHECK_FALSE(plain.sent->edns);
}

TEST_CASE("stages: an answer with the wrong ID or question is refused as a mismatch") {
    Lab lab;
    auto tampered = answering({"www.example.com. 300 IN A 192.0.2.10"});
    tampered.tamper = [](wire::Message& m) { m.id ^= 1; };
    lab.upstream("www.example.com", wire::rrtype::A, tampered);
    auto o = lab.run(query("www.example.com"));
    REQUIRE(o.sent);
    CHECK(o.sent->rcode() == wire::rcode::ServFail);
    REQUIRE(o.ctx->upstream_error);
    CHECK(o.ctx->upstream_error->detail.find("does not match the question") != std::string::npos);
    CHECK(lab.cache().size() == 0);
}

TEST_CASE("stages: UDP answers are cut to the client's EDNS size, never below 512") {
    Lab lab;
    Script big;
    for (int i = 1; i <= 40; ++i) {
        big.answer.push_back("big.example.com. 300 IN A 192.0.2." + std::to_string(i));
    }
    lab.upstream("big.example.com", wire::rrtype::A, big);
    lab.upstream("www.example.com", wire::rrtype::A,
                 answering({"www.example.com. 300 IN A 192.0.2.10"}));
    // RFC 6891 §6.2.5: a size below 512 is treated as 512.
    auto tiny = lab.run(query("www.example.com", wire::rrtype::A, 50));
    REQUIRE(tiny.sent);
    CHECK_FALSE(tiny.ctx->truncated);
    CHECK(answers(*tiny.sent).size() == 1);
    auto cut = lab.run(query("big.example.com", wire::rrtype::A, 512));
    CHECK(cut.ctx->truncated);
    CHECK(cut.ctx->wire_out.size() <= 512);
    CHECK(cut.sent->flag(wire::kFlagTc));
    auto no_edns = lab.run(query("big.example.com", wire::rrtype::A, 0));
    CHECK(no_edns.ctx->wire_out.size() <= 512);
    CHECK(no_edns.ctx->truncated);
    auto roomy = lab.run(query("big.example.com", wire::rrtype::A, 4096));
    CHECK_FALSE(roomy.ctx->truncated);
    CHECK(answers(*roomy.sent).size() == 40);
    auto tcp = lab.run(query("big.example.com", wire::rrtype::A, 0), stream(net::Transport::Tcp));
    CHECK_FALSE(tcp.ctx->truncated);
    CHECK(answers(*tcp.sent).size() == 40);
}

TEST_CASE("stages: DNSSEC records and AD reach only clients that asked for them") {
    Lab lab;
    auto signed_answer = answering({"www.example.com. 300 IN A 192.0.2.10",
                                    "www.example.com. 300 IN RRSIG A 13 3 300 20300101000000 "
                                    "20200101000000 12345 example.com. AAAA"});
    signed_answer.ad = true;
    lab.upstream("www.example.com", wire::rrtype::A, signed_answer);
    auto plain = lab.run(query("www.example.com"));
    CHECK(answers(*plain.sent).size() == 1);
    CHECK_FALSE(plain.sent->flag(wire::kFlagAd));
    auto q = query("www.example.com");
    q.edns->dnssec_ok = true;
    auto with_do = lab.run(q);
    CHECK(with_do.sent->answer.size() == 2);
    CHECK(with_do.sent->flag(wire::kFlagAd));
    CHECK(with_do.asked.size() == 1); // DO is part of the cache key: a separate upstream query
}

TEST_CASE("stages: more queries waiting than allowed get SERVFAIL with EDE 0 naming the limit") {
    Lab lab;
    stages::QueryContext ctx;
    ctx.id = 1;
    ctx.transport = udp_from("127.0.0.1");
    auto bytes = wire::serialize(query("www.example.com"));
    stages::StageRunner runner(lab.env());
    REQUIRE(runner.start(ctx, bytes) == stages::Step::NeedUpstream);
    REQUIRE(runner.resume(ctx, resolver::fail(Errc::Overloaded, "10000 queries already wait (limit "
                                                                "resolver.max_waiting_queries)")) ==
            stages::Step::Done);
    auto sent = wire::parse({ctx.wire_out.data(), ctx.wire_out.size()});
    REQUIRE(sent);
    CHECK(sent.message->rcode() == wire::rcode::ServFail);
    REQUIRE(sent.message->edes().size() == 1);
    CHECK(sent.message->edes()[0].code == 0);
    CHECK(sent.message->edes()[0].text.find("max_waiting_queries") != std::string::npos);
}

TEST_CASE("stages: a recycled context carries nothing of one query into the next") {
    // The pipeline reuses a finished query's context: its storage is kept, emptied, and a
    // cache hit assigns over the last message. A query run in a recycled context must end
    // exactly as in a fresh one.
    Lab lab;
    lab.upstream("v6.example.com", wire::rrtype::AAAA,
                 answering({"v6.example.com. 300 IN AAAA 2001:db8::1",
                            "v6.example.com. 300 IN AAAA 2001:db8::2"}));
    lab.upstream("www.example.com", wire::rrtype::A,
                 answering({"www.example.com. 120 IN A 192.0.2.10"}));
    lab.upstream("nx.example.com", wire::rrtype::A, negative(wire::rcode::NxDomain, {kSoa}));
    for (const char* warm : {"v6.example.com", "www.example.com", "nx.example.com"}) {
        lab.run(query(warm, std::string_view(warm) == "v6.example.com" ? wire::rrtype::AAAA
                                                                       : wire::rrtype::A));
    }
    auto recycle = [](std::unique_ptr<stages::QueryContext> ctx) {
        stages::reuse(*ctx); // as the pipeline does
        return ctx;
    };
    const std::vector<wire::Message> sequence = {
        query("v6.example.com", wire::rrtype::AAAA),  // cache hit, two records
        query("WWW.example.com"),                     // cache hit, one record, other case
        query("nx.example.com"),                      // cache hit, negative
        query("new.example.com"),                     // miss: the upstream fails
        query("www.example.com", wire::rrtype::A, 0), // without EDNS
    };
    lab.upstream("new.example.com", wire::rrtype::A, failing(Errc::UpstreamTimeout, "timed out"));
    auto slot = std::make_unique<stages::QueryContext>();
    for (const auto& q : sequence) {
        const auto bytes = wire::serialize(q);
        auto fresh = lab.run_bytes(bytes);
        auto reused = lab.run_in(std::move(slot), bytes);
        CAPTURE(q.question[0].qname.to_text());
        CHECK(reused.ctx->wire_out == fresh.ctx->wire_out);
        CHECK(reused.ctx->qname_text == fresh.ctx->qname_text);
        CHECK(reused.ctx->upstream_server == fresh.ctx->upstream_server);
        CHECK(reused.ctx->upstream_ttls == fresh.ctx->upstream_ttls);
        CHECK(reused.ctx->initial_resolved_ips == fresh.ctx->initial_resolved_ips);
        CHECK(reused.ctx->source == fresh.ctx->source);
        CHECK(reused.ctx->upstream_answer.has_value() == fresh.ctx->upstream_answer.has_value());
        slot = recycle(std::move(reused.ctx));
    }
}
