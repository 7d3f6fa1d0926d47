// SPDX-License-Identifier: MIT
// The facts the stages feed the issue-17 selectors: dns.src_internal_ip from the transport
// (a private on-ramp listener), app.ids from the application catalogue and indicator feeds,
// each through decode -> answer with the decision cache on, and their log fields.
#include <nlohmann/json.hpp>

#include "resolver/log/query_record.hpp"
#include "tests/unit/stages/stage_lab.hpp"

using namespace stage_lab;

namespace {

stages::PolicySnapshotPtr snapshot(const policy::PolicyTexts& t) {
    auto set = policy::load_policy_texts(t);
    REQUIRE_MESSAGE(set, (set ? "" : set.error().detail));
    auto snap = std::make_shared<stages::PolicySnapshot>();
    snap->set = std::move(set).value();
    snap->generation = 1;
    return snap;
}

policy::PolicyTexts texts() {
    policy::PolicyTexts t;
    t.locations = R"j([{"id":"loc","name":"L","networks":[{"network":"0.0.0.0/0"}]}])j";
    t.applications = R"j([{"id":25,"name":"Artificial Intelligence"},
        {"id":505,"application_type_id":25,"name":"AI 505","domains":["ai.example"]}])j";
    t.indicator_feeds = R"j({"feeds":[{"id":9,"name":"Feed nine","domains":["bad.example"]}]})j";
    t.rules = R"j([
      {"id":"onramp","name":"On-ramp","precedence":1,"action":"block","filters":["dns"],
       "traffic":"dns.src_internal_ip in {10.20.0.0/16}"},
      {"id":"apps","name":"AI","precedence":2,"action":"block","filters":["dns"],
       "traffic":"any(app.type.ids[*] in {25})"},
      {"id":"feeds","name":"Feeds","precedence":3,"action":"block","filters":["dns"],
       "traffic":"any(dns.indicator_feed[*] in {9})"}])j";
    return t;
}

nlohmann::json record(const Outcome& o) {
    return nlohmann::json::parse(resolver::log::render_query_record(*o.ctx));
}

} // namespace

TEST_CASE("stages: dns.src_internal_ip comes from the transport, and keys the decision cache") {
    Lab lab(snapshot(texts()));
    lab.upstream("x.example", wire::rrtype::A, answering({"x.example. 300 IN A 192.0.2.1"}));
    auto onramp = udp_from("10.20.3.4");
    onramp.src_internal_ip = net::IpAddr::parse("10.20.3.4");
    // The same query from the same address, first as ordinary traffic, then on-ramp, then
    // ordinary again: the decision cache must not hand one's verdict to the other.
    auto plain = lab.run(query("x.example"), udp_from("10.20.3.4"));
    REQUIRE(plain.sent);
    CHECK(answers(*plain.sent) == std::vector<std::string>{"x.example. 300 A 192.0.2.1"});
    CHECK_FALSE(plain.ctx->src_internal_ip);
    auto internal = lab.run(query("x.example"), onramp);
    REQUIRE(internal.sent);
    CHECK(internal.ctx->src_internal_ip == net::IpAddr::parse("10.20.3.4"));
    CHECK(answers(*internal.sent) == std::vector<std::string>{"x.example. 60 A 0.0.0.0"});
    CHECK(record(internal)["PolicyID"] == "onramp");
    auto again = lab.run(query("x.example"), udp_from("10.20.3.4"));
    CHECK(answers(*again.sent) == std::vector<std::string>{"x.example. 300 A 192.0.2.1"});
}

TEST_CASE("stages: application and indicator-feed blocks fill their log fields") {
    Lab lab(snapshot(texts()));
    auto app = lab.run(query("chat.ai.example"));
    REQUIRE(app.sent);
    CHECK(app.asked.empty());
    CHECK(answers(*app.sent) == std::vector<std::string>{"chat.ai.example. 60 A 0.0.0.0"});
    auto a = record(app);
    CHECK(a["PolicyID"] == "apps");
    CHECK(a["ApplicationID"] == 505);
    CHECK(a["ApplicationName"] == "AI 505");
    CHECK(a["QueryApplicationIDs"] == nlohmann::json::array({505}));
    CHECK(a["QueryApplicationNames"] == nlohmann::json::array({"AI 505"}));
    CHECK(a["MatchedIndicatorFeedIDs"] == nlohmann::json::array());

    auto feed = lab.run(query("www.bad.example"));
    REQUIRE(feed.sent);
    auto f = record(feed);
    CHECK(f["PolicyID"] == "feeds");
    CHECK(f["ApplicationID"] == 0);
    CHECK(f["ApplicationName"] == "");
    CHECK(f["MatchedIndicatorFeedIDs"] == nlohmann::json::array({9}));
    CHECK(f["MatchedIndicatorFeedNames"] == nlohmann::json::array({"Feed nine"}));
    CHECK(f["QueryIndicatorFeedIDs"] == nlohmann::json::array({9}));
    CHECK(f["QueryIndicatorFeedNames"] == nlohmann::json::array({"Feed nine"}));
}
