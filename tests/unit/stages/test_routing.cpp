// SPDX-License-Identifier: MIT
// Resolver-policy routes through the stages: Internal DNS views and their fallback, custom
// resolvers in Gateway's order and on private networks, EDNS Client Subnet upstream.
#include "resolver/stages/stage.hpp"
#include "tests/unit/stages/stage_lab.hpp"

using namespace stage_lab;
using namespace std::chrono_literals;

namespace {

std::string rules_with(const std::string& rule_settings) {
    return R"j({"success": true, "errors": [], "messages": [], "result": [
      {"id": "r-route", "name": "Route corp", "precedence": 1000, "enabled": true,
       "action": "resolve", "filters": ["dns_resolver"],
       "traffic": "any(dns.domains[*] == \"corp.example\")", "identity": "",
       "rule_settings": )j" +
           rule_settings + "}]}";
}

std::shared_ptr<stages::PolicySnapshot> snapshot(const std::string& rule_settings) {
    auto snap = std::make_shared<stages::PolicySnapshot>(
        *policy_from({{"rules", rules_with(rule_settings)}}));
    snap->routes.internal_views["view-1"] = "fixture:/views/one";
    snap->routes.internal_zones["corp.example"] = "zone-corp";
    snap->routes.default_vnet = "udp://127.0.0.1:6001";
    snap->routes.vnets["vnet-b"] = "udp://127.0.0.1:6002";
    return snap;
}

const char* kInternal = R"({"resolve_dns_internally": {"view_id": "view-1", "fallback": "%s"}})";

std::string internal(const std::string& fallback) {
    std::string s = kInternal;
    s.replace(s.find("%s"), 2, fallback);
    return s;
}

const char* kSoa = "corp.example. 300 IN SOA ns.corp.example. host.corp.example. 1 7200 3600 "
                   "1209600 300";

} // namespace

TEST_CASE("routing: an Internal DNS view goes to its own upstream and logs its facts") {
    Lab lab(snapshot(internal("none")));
    Script s = answering({"app.corp.example. 60 IN A 10.1.2.3"});
    s.latency = 7ms;
    lab.upstream_at("fixture:/views/one", "app.corp.example", wire::rrtype::A, s);
    lab.upstream("app.corp.example", wire::rrtype::A,
                 answering({"app.corp.example. 60 IN A 203.0.113.9"})); // the public answer
    auto o = lab.run(query("app.corp.example"));
    REQUIRE(o.asked.size() == 1);
    CHECK(o.asked[0].urls == std::vector<std::string>{"fixture:/views/one"});
    CHECK(o.asked[0].route_key == "internal:view-1|fixture:/views/one");
    CHECK(answers(*o.sent) == std::vector<std::string>{"app.corp.example. 60 A 10.1.2.3"});
    REQUIRE(o.ctx->internal_dns);
    CHECK(o.ctx->internal_dns->view_id == "view-1");
    CHECK(o.ctx->internal_dns->fallback_applied.empty());
    CHECK(o.ctx->internal_dns->rcode == 0);
    CHECK(o.ctx->internal_dns->zone_id == "zone-corp");
    CHECK(o.ctx->internal_dns->duration_ms == 7);
}

TEST_CASE("routing: fallback public_dns replaces a view's NXDOMAIN with the default upstream") {
    Lab lab(snapshot(internal("public_dns")));
    lab.upstream_at("fixture:/views/one", "www.corp.example", wire::rrtype::A,
                    negative(wire::rcode::NxDomain, {kSoa}));
    lab.upstream("www.corp.example", wire::rrtype::A,
                 answering({"www.corp.example. 60 IN A 203.0.113.9"}));
    auto o = lab.run(query("www.corp.example"));
    REQUIRE(o.asked.size() == 2);
    CHECK(o.asked[0].urls == std::vector<std::string>{"fixture:/views/one"});
    CHECK(o.asked[1].urls.empty()); // the default upstream
    CHECK(o.asked[1].internal_fallback);
    CHECK(o.asked[1].id != o.asked[0].id);
    CHECK(o.sent->rcode() == wire::rcode::NoError);
    CHECK(answers(*o.sent) == std::vector<std::string>{"www.corp.example. 60 A 203.0.113.9"});
    CHECK(o.ctx->internal_dns->fallback_applied == "public_dns");
    CHECK(o.ctx->internal_dns->rcode == wire::rcode::NxDomain);
    // The route's cache holds what the route yields: the next query needs no upstream.
    auto again = lab.run(query("www.corp.example"));
    CHECK(again.asked.empty());
    CHECK(answers(*again.sent) == std::vector<std::string>{"www.corp.example. 60 A 203.0.113.9"});
}

TEST_CASE("routing: fallback public_dns on a failed view, on CNAME-only A answers") {
    Lab lab(snapshot(internal("public_dns")));
    lab.upstream_at("fixture:/views/one", "down.corp.example", wire::rrtype::A,
                    failing(Errc::UpstreamTimeout, "view timed out"));
    lab.upstream("down.corp.example", wire::rrtype::A,
                 answering({"down.corp.example. 60 IN A 203.0.113.1"}));
    auto failed = lab.run(query("down.corp.example"));
    REQUIRE(failed.asked.size() == 2);
    CHECK(answers(*failed.sent) == std::vector<std::string>{"down.corp.example. 60 A 203.0.113.1"});
    CHECK(failed.ctx->internal_dns->rcode == wire::rcode::ServFail);
    CHECK(failed.ctx->internal_dns->zone_id.empty());
    CHECK_FALSE(failed.ctx->upstream_error); // the fallback answered

    lab.upstream_at("fixture:/views/one", "alias.corp.example", wire::rrtype::A,
                    answering({"alias.corp.example. 60 IN CNAME elsewhere.example.net."}));
    lab.upstream("alias.corp.example", wire::rrtype::A,
                 answering({"alias.corp.example. 60 IN A 203.0.113.2"}));
    auto cname = lab.run(query("alias.corp.example"));
    REQUIRE(cname.asked.size() == 2);
    CHECK(cname.ctx->internal_dns->fallback_applied == "public_dns");
    CHECK(answers(*cname.sent) == std::vector<std::string>{"alias.corp.example. 60 A 203.0.113.2"});

    // A NOERROR answer with records is the view's to give.
    lab.upstream_at("fixture:/views/one", "ok.corp.example", wire::rrtype::A,
                    answering({"ok.corp.example. 60 IN A 10.0.0.1"}));
    auto ok = lab.run(query("ok.corp.example"));
    CHECK(ok.asked.size() == 1);
    CHECK(ok.ctx->internal_dns->fallback_applied.empty());
}

TEST_CASE("routing: fallback none keeps the view's NXDOMAIN and its failure") {
    Lab lab(snapshot(internal("none")));
    lab.upstream_at("fixture:/views/one", "www.corp.example", wire::rrtype::A,
                    negative(wire::rcode::NxDomain, {kSoa}));
    lab.upstream("www.corp.example", wire::rrtype::A,
                 answering({"www.corp.example. 60 IN A 203.0.113.9"}));
    auto o = lab.run(query("www.corp.example"));
    CHECK(o.asked.size() == 1);
    CHECK(o.sent->rcode() == wire::rcode::NxDomain);
    CHECK(o.ctx->internal_dns->rcode == wire::rcode::NxDomain);
    CHECK(o.ctx->internal_dns->fallback_applied.empty());

    lab.upstream_at("fixture:/views/one", "down.corp.example", wire::rrtype::A,
                    failing(Errc::UpstreamTimeout, "view timed out"));
    auto down = lab.run(query("down.corp.example"));
    CHECK(down.asked.size() == 1);
    CHECK(down.sent->rcode() == wire::rcode::ServFail);
}

TEST_CASE("routing: a view without a table entry uses internal_upstream, else the default") {
    auto snap = snapshot(R"({"resolve_dns_internally": {"view_id": "view-2"}})");
    snap->behaviour.internal_upstream = "udp://127.0.0.1:6053";
    Lab lab(snap);
    lab.upstream("x.corp.example", wire::rrtype::A,
                 answering({"x.corp.example. 60 IN A 10.9.9.9"}));
    auto o = lab.run(query("x.corp.example"));
    REQUIRE(o.asked.size() == 1);
    CHECK(o.asked[0].urls == std::vector<std::string>{"udp://127.0.0.1:6053"});
    CHECK(o.ctx->internal_dns->view_id == "view-2");

    auto bare = snapshot(R"({"resolve_dns_internally": {"view_id": "view-2"}})");
    Lab lab2(bare);
    lab2.upstream("x.corp.example", wire::rrtype::A,
                  answering({"x.corp.example. 60 IN A 10.9.9.9"}));
    auto d = lab2.run(query("x.corp.example"));
    REQUIRE(d.asked.size() == 1);
    CHECK(d.asked[0].urls.empty());
    CHECK(d.asked[0].route_key == "default");
}

TEST_CASE("routing: custom resolvers go public, then default vnet, then custom vnet") {
    Lab lab(snapshot(R"({"dns_resolvers": {
        "ipv4": [{"ip": "10.0.0.53", "port": 5353, "route_through_private_network": true,
                  "vnet_id": "vnet-b"},
                 {"ip": "10.0.0.54", "route_through_private_network": true},
                 {"ip": "127.0.0.1", "port": 5400}],
        "ipv6": [{"ip": "::1", "port": 5401}]}})"));
    Script s = answering({"db.corp.example. 60 IN A 10.0.0.7"});
    s.latency = 12ms;
    s.server = "127.0.0.1:5400";
    lab.upstream("db.corp.example", wire::rrtype::A, s);
    auto o = lab.run(query("db.corp.example"));
    REQUIRE(o.asked.size() == 1);
    CHECK(o.asked[0].urls == std::vector<std::string>{"udp://127.0.0.1:5400", "udp://[::1]:5401",
                                                      "udp://127.0.0.1:6001",
                                                      "udp://127.0.0.1:6002"});
    CHECK(o.asked[0].prefer_fastest); // [behaviour] custom_resolver_selection = "fastest"
    REQUIRE(o.ctx->custom_resolve);
    CHECK(o.ctx->custom_resolve->duration_ms == 12);
    CHECK(o.ctx->custom_resolve->response == "NOERROR");
    CHECK(o.ctx->custom_resolver_address == "127.0.0.1:5400"); // the one that answered
}

TEST_CASE("routing: custom resolver failures are logged, unreachable private ones named") {
    auto snap = snapshot(R"({"dns_resolvers": {"ipv4": [{"ip": "127.0.0.1", "port": 5400}]}})");
    snap->behaviour.custom_resolver_selection = "order";
    Lab lab(snap);
    lab.upstream("db.corp.example", wire::rrtype::A,
                 failing(Errc::UpstreamTimeout, "127.0.0.1:5400 timed out"));
    auto o = lab.run(query("db.corp.example"));
    CHECK_FALSE(o.asked.at(0).prefer_fastest);
    CHECK(o.sent->rcode() == wire::rcode::ServFail);
    CHECK(o.ctx->custom_resolve->response == "timeout");

    Lab lost(snapshot(R"({"dns_resolvers": {"ipv4": [{"ip": "10.0.0.53",
        "route_through_private_network": true, "vnet_id": "vnet-unknown"}]}})"));
    auto u = lost.run(query("db.corp.example"));
    CHECK(u.asked.empty()); // never sent to the default upstream instead
    CHECK(u.sent->rcode() == wire::rcode::ServFail);
    REQUIRE(u.ctx->upstream_error);
    CHECK(u.ctx->upstream_error->detail.find("10.0.0.53:53 (vnet vnet-unknown)") !=
          std::string::npos);
}

TEST_CASE("routing: the ECS option carries the client's /24 or /56, scope 0 (RFC 7871)") {
    std::string text;
    auto v4 = stages::client_subnet_option(*net::IpAddr::parse("192.0.2.77"), &text);
    REQUIRE(v4);
    CHECK(v4->code == 8);
    CHECK(v4->data == std::string("\x00\x01\x18\x00\xc0\x00\x02", 7));
    CHECK(text == "192.0.2.0/24");
    auto v6 =
        stages::client_subnet_option(*net::IpAddr::parse("2001:db8:1234:5678:9abc::1"), &text);
    REQUIRE(v6);
    CHECK(v6->data == std::string("\x00\x02\x38\x00\x20\x01\x0d\xb8\x12\x34\x56", 11));
    CHECK(text == "2001:db8:1234:5600::/56");
    // A shorter limit (the client's own SOURCE PREFIX-LENGTH) cuts inside a byte.
    auto v4_20 = stages::client_subnet_option(*net::IpAddr::parse("192.0.2.77"), &text, 20);
    REQUIRE(v4_20);
    CHECK(v4_20->data == std::string("\x00\x01\x14\x00\xc0\x00\x00", 7));
    CHECK(text == "192.0.0.0/20");
    auto v6_33 =
        stages::client_subnet_option(*net::IpAddr::parse("2001:db8:ffff:5678:9abc::1"), &text, 33);
    REQUIRE(v6_33);
    CHECK(v6_33->data == std::string("\x00\x02\x21\x00\x20\x01\x0d\xb8\x80", 9));
    CHECK(text == "2001:db8:8000::/33");
    // Never longer than the lab's own /24 and /56.
    auto v4_32 = stages::client_subnet_option(*net::IpAddr::parse("192.0.2.77"), &text, 32);
    CHECK(v4_32->data == std::string("\x00\x01\x18\x00\xc0\x00\x02", 7));
}

TEST_CASE("routing: a location with ecs_support sends the client subnet upstream") {
    Lab lab(sample_policy()); // Branch (127.0.1.0/24) has ecs_support, HQ (127.0.0.0/24) not
    lab.upstream("www.example.com", wire::rrtype::A,
                 answering({"www.example.com. 300 IN A 192.0.2.10"}));
    auto branch = lab.run(query("www.example.com"), udp_from("127.0.1.9"));
    REQUIRE(branch.asked.size() == 1);
    auto sent = wire::parse({branch.asked[0].wire.data(), branch.asked[0].wire.size()});
    REQUIRE(sent);
    const auto* ecs = sent.message->edns->find(wire::edns_opt::Ecs);
    REQUIRE(ecs != nullptr);
    CHECK(ecs->data == std::string("\x00\x01\x18\x00\x7f\x00\x01", 7));
    CHECK(branch.ctx->client_subnet_text == "127.0.1.0/24");

    auto hq = lab.run(query("www.example.com"), udp_from("127.0.0.9"));
    REQUIRE(hq.asked.size() == 1); // a subnet-tailored answer is not shared across subnets
    auto plain = wire::parse({hq.asked[0].wire.data(), hq.asked[0].wire.size()});
    CHECK(plain.message->edns->find(wire::edns_opt::Ecs) == nullptr);

    // A client that sent SOURCE PREFIX-LENGTH 0 asked for no subnet (RFC 7871 §7.1.2).
    auto q = query("other.example.com");
    q.edns->options.push_back({wire::edns_opt::Ecs, std::string("\x00\x01\x00\x00", 4)});
    lab.upstream("other.example.com", wire::rrtype::A,
                 answering({"other.example.com. 300 IN A 192.0.2.11"}));
    auto opted_out = lab.run(q, udp_from("127.0.1.9"));
    REQUIRE(opted_out.asked.size() == 1);
    auto none = wire::parse({opted_out.asked[0].wire.data(), opted_out.asked[0].wire.size()});
    CHECK(none.message->edns->find(wire::edns_opt::Ecs) == nullptr);
    // ... and still gets an ECS option back (RFC 7871 §7.2.2), its own, SCOPE 0.
    REQUIRE(opted_out.sent->edns);
    const auto* back = opted_out.sent->edns->find(wire::edns_opt::Ecs);
    REQUIRE(back != nullptr);
    CHECK(back->data == std::string("\x00\x01\x00\x00", 4));
    // No ECS from the client: none in its answer.
    REQUIRE(branch.sent->edns);
    CHECK(branch.sent->edns->find(wire::edns_opt::Ecs) == nullptr);
}

TEST_CASE("routing: a client's own ECS caps the prefix sent upstream and is echoed, SCOPE 0") {
    Lab lab(sample_policy()); // Branch (127.0.1.0/24) has ecs_support
    lab.upstream("www.example.com", wire::rrtype::A,
                 answering({"www.example.com. 300 IN A 192.0.2.10"}));
    // A forwarder's ECS for 198.51.100.0/16 (RFC 7871 §7.1.3): the lab uses the source
    // address, but no more than the 16 bits the client sent (§7.1.1).
    auto q = query("www.example.com");
    q.edns->options.push_back({wire::edns_opt::Ecs, std::string("\x00\x01\x10\x11\xc6\x33", 6)});
    auto r = lab.run(q, udp_from("127.0.1.9"));
    REQUIRE(r.asked.size() == 1);
    auto sent = wire::parse({r.asked[0].wire.data(), r.asked[0].wire.size()});
    REQUIRE(sent);
    const auto* up = sent.message->edns->find(wire::edns_opt::Ecs);
    REQUIRE(up != nullptr);
    CHECK(up->data == std::string("\x00\x01\x10\x00\x7f\x00", 6));
    CHECK(r.ctx->client_subnet_text == "127.0.0.0/16");
    // The answer carries the client's FAMILY, SOURCE and ADDRESS back with SCOPE 0 (§7.2.2).
    REQUIRE(r.sent->edns);
    const auto* back = r.sent->edns->find(wire::edns_opt::Ecs);
    REQUIRE(back != nullptr);
    CHECK(back->data == std::string("\x00\x01\x10\x00\xc6\x33", 6));

    // Another family than the client's address: the lab's own /24, still echoed.
    auto q6 = query("www.example.com");
    q6.edns->options.push_back(
        {wire::edns_opt::Ecs, std::string("\x00\x02\x20\x00\x20\x01\x0d\xb8", 8)});
    auto r6b = lab.run(q6, udp_from("127.0.1.10"));
    REQUIRE(r6b.asked.size() == 1); // 127.0.1.0/24 is another cache key than 127.0.0.0/16
    auto sent6 = wire::parse({r6b.asked[0].wire.data(), r6b.asked[0].wire.size()});
    REQUIRE(sent6);
    CHECK(sent6.message->edns->find(wire::edns_opt::Ecs)->data ==
          std::string("\x00\x01\x18\x00\x7f\x00\x01", 7));
    CHECK(r6b.sent->edns->find(wire::edns_opt::Ecs)->data ==
          std::string("\x00\x02\x20\x00\x20\x01\x0d\xb8", 8));
}
