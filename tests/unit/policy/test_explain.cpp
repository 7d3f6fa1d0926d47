// SPDX-License-Identifier: MIT
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "policy_test_util.hpp"
#include "resolver/policy/answer.hpp"
#include "resolver/policy/explain.hpp"

using namespace resolver::policy;
namespace net = resolver::net;
namespace wire = resolver::wire;

TEST_SUITE_BEGIN("policy.explain");

TEST_CASE("explain renders every phase, the decision and the dig-style answer") {
    auto set = load_policy(policy_test::fixture_files());
    REQUIRE(set);
    Behaviour b;
    resolver::attribution::AttributionInput ai;
    ai.src = net::IpAddr::parse("127.0.0.1");
    auto loc = resolver::attribution::attribute((*set)->locations, ai, b.attribution());
    QueryFacts q;
    q.qname = "malware.testcategory.com";
    q.src_ip = ai.src;
    q.location = loc.location;
    auto ev = evaluate_pre(**set, q, b, EvalOptions{1720000800, true});
    wire::Message query;
    query.id = 7;
    query.question.push_back({*wire::Name::from_text(q.qname), wire::rrtype::A, wire::rrclass::IN});
    auto ans = synthesize(query, ev, b);
    REQUIRE(ans);
    ExplainInput in;
    in.query = &q;
    in.location = &loc;
    in.ev = &ev;
    in.behaviour = &b;
    in.answer = &ans->message;
    in.now = 1720000800;
    auto text = render_explain_text(in);
    CHECK(text.find("location: HQ") != std::string::npos);
    CHECK(text.find("src-network:127.0.0.0/24") != std::string::npos);
    CHECK(text.find("== pre-resolution DNS policies ==") != std::string::npos);
    CHECK(text.find("[matched] #200 block \"Block security threats\"") != std::string::npos);
    CHECK(text.find("[not matched] #100 allow") != std::string::npos);
    CHECK(text.find("== resolver policies ==") != std::string::npos);
    CHECK(text.find("decision: blockedByCategory (3)") != std::string::npos);
    CHECK(text.find("malware.testcategory.com.\t60\tIN\tA\t162.159.36.12") != std::string::npos);
    auto j = nlohmann::json::parse(render_explain_json(in));
    CHECK(j["schema"] == "dnslab.explain.v1");
    CHECK(j["decision"]["ResolverDecision"] == "blockedByCategory");
    CHECK(j["decision"]["code"] == 3);
    CHECK(j["categories"]["MatchedCategoryIDs"] == nlohmann::json::array({21}));
    CHECK(j["rcode"] == "NOERROR");
    CHECK(j["trace"].size() == (*set)->dns_rules.size() + (*set)->resolver_rules.size());
}

TEST_SUITE_END();

// Found by tests/fuzz/fuzz_wire: an upstream TXT record or EDE text that is not UTF-8 made
// format_message and render_explain_json throw nlohmann's type_error 316 (explain aborted).
TEST_CASE("explain renders TXT and EDE bytes that are not UTF-8") {
    wire::Message m;
    m.flags = wire::kFlagQr;
    m.question.push_back({*wire::Name::from_text("t.example.com"), wire::rrtype::TXT});
    wire::ResourceRecord txt;
    txt.name = m.question[0].qname;
    txt.type = wire::rrtype::TXT;
    txt.rdata = std::string("\x04\xff\xfe\x80\"", 5);
    m.answer.push_back(txt);
    m.add_ede(15, std::string("\xc3\x28", 2));
    const std::string text = format_message(m);
    CHECK(text.find("t.example.com.\t0\tIN\tTXT\t\"\xef\xbf\xbd") != std::string::npos);
    Evaluation ev;
    ExplainInput in;
    in.ev = &ev;
    in.answer = &m;
    const auto j = nlohmann::json::parse(render_explain_json(in));
    CHECK(j["answer"].get<std::string>().find("TXT") != std::string::npos);
    CHECK(render_explain_text(in).find("EDE: 15") != std::string::npos);
}
