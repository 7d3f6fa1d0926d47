// SPDX-License-Identifier: MIT
#include <string>

#include <doctest/doctest.h>

#include "resolver/fault/live_plan.hpp"
#include "tests/unit/fixture/fixture_test_util.hpp"

using namespace resolver;
using fault::FaultPlan;
using fault::HandshakeFault;
using fault::Site;

namespace {
wire::Name name(const char* text) {
    return *wire::Name::from_text(text);
}
} // namespace

TEST_SUITE_BEGIN("fault.live_plan");

TEST_CASE("listener faults parse inline and from TOML, and describe themselves") {
    auto plan = FaultPlan::parse_inline(
        "a.example:http=503; b.example:goaway; c.example:goaway=ENHANCE_YOUR_CALM;"
        "d.example:rst_stream; e.example:rst_stream=refused_stream; dns.partner.example:tls=alert;"
        "*@tls:tls=stall");
    REQUIRE_MESSAGE(plan.has_value(), (plan ? "" : plan.error().detail));
    REQUIRE(plan->rules().size() == 7);
    CHECK(plan->rules()[0].action.http_status == 503u);
    CHECK(plan->rules()[1].action.goaway == 0u);
    CHECK(plan->rules()[2].action.goaway == 11u);
    CHECK(plan->rules()[3].action.rst_stream == 2u);
    CHECK(plan->rules()[4].action.rst_stream == 7u);
    CHECK(plan->rules()[5].action.handshake == HandshakeFault::Alert);
    CHECK(plan->rules()[2].action.describe() == "goaway=ENHANCE_YOUR_CALM");
    CHECK(plan->rules()[4].action.describe() == "rst_stream=REFUSED_STREAM");
    CHECK(plan->rules()[6].action.describe() == "tls=stall");

    auto toml = FaultPlan::parse_toml(R"(
[[fault]]
name = "a.example"
http_status = 429
[[fault]]
name = "b.example"
goaway = "PROTOCOL_ERROR"
[[fault]]
name = "c.example"
rst_stream = true
[[fault]]
name = "*"
tls_handshake = "close"
)",
                                      "listener.toml");
    REQUIRE_MESSAGE(toml.has_value(), (toml ? "" : toml.error().detail));
    REQUIRE(toml->rules().size() == 4);
    CHECK(toml->rules()[0].action.http_status == 429u);
    CHECK(toml->rules()[1].action.goaway == 1u);
    CHECK(toml->rules()[2].action.rst_stream == 2u);
    CHECK(toml->rules()[3].action.handshake == HandshakeFault::Close);

    for (const char* bad : {"x:http=200", "x:http=99", "x:http=abc", "x:goaway=NOPE",
                            "x:rst_stream=NOT_A_CODE", "x:tls=reject"}) {
        CAPTURE(bad);
        CHECK_FALSE(FaultPlan::parse_inline(bad).has_value());
    }
    CHECK_FALSE(FaultPlan::parse_toml("[[fault]]\nhttp_status = 700\n", "t.toml").has_value());
    CHECK_FALSE(FaultPlan::parse_toml("[[fault]]\ntls_handshake = 3\n", "t.toml").has_value());
}

TEST_CASE("each site accepts only the faults it can produce") {
    auto plan = [](const char* spec) { return *FaultPlan::parse_inline(spec); };
    CHECK(plan("x:drop,rcode=REFUSED").check_site(Site::Upstream).has_value());
    auto st = plan("x:http=503").check_site(Site::Upstream);
    REQUIRE_FALSE(st.has_value());
    CHECK(st.error().detail.find("listeners") != std::string::npos);
    CHECK_FALSE(plan("x:drop").check_site(Site::DohListener).has_value());
    CHECK(plan("x:http=503;y:goaway;z:rst_stream;*:tls=alert").check_site(Site::DohListener));
    CHECK(plan("*:tls=alert").check_site(Site::DotListener).has_value());
    CHECK_FALSE(plan("x:http=503").check_site(Site::DotListener).has_value());
    CHECK_FALSE(plan("x/A:tls=alert").check_site(Site::DohListener).has_value());
    CHECK_FALSE(plan("x:tls=alert,http=503").check_site(Site::DohListener).has_value());
}

TEST_CASE("handshake rules match the SNI and never a query; query rules never a handshake") {
    auto plan = *FaultPlan::parse_inline(
        "dns.partner.example:tls=alert; *.blocked.example@https:tls=close; www.example:http=503");
    CHECK(plan.match_handshake("dns.partner.example", "tls") != nullptr);
    CHECK(plan.match_handshake("DNS.Partner.Example", "https") != nullptr);
    CHECK(plan.match_handshake("x.blocked.example", "https") != nullptr);
    CHECK(plan.match_handshake("x.blocked.example", "tls") == nullptr);
    CHECK(plan.match_handshake("", "tls") == nullptr); // no SNI: only "*" matches
    CHECK(plan.match_handshake("www.example", "https") == nullptr);
    CHECK(plan.match(name("dns.partner.example"), 1, "tls") == nullptr);
    CHECK(plan.match(name("www.example"), 1, "https") != nullptr);
    auto star = *FaultPlan::parse_inline("*:tls=stall");
    CHECK(star.match_handshake("", "tls") != nullptr);
}

TEST_CASE("a live plan keeps inline rules first, re-reads its file, keeps the old plan on error") {
    fixture_test::TempDir dir;
    const auto file = dir.write("f.toml", "[[fault]]\nname = \"b.example\"\nhttp_status = 503\n");
    auto live = fault::LivePlan::create("a.example:goaway", file.string(), Site::DohListener,
                                        "https://127.0.0.1:0/dns-query");
    REQUIRE_MESSAGE(live.has_value(), (live ? "" : live.error().detail));
    auto& p = **live;
    REQUIRE(p.current().rules().size() == 2);
    CHECK(p.current().rules()[0].pattern == "a.example");
    CHECK(p.current().rules()[1].action.http_status == 503u);

    dir.write("f.toml", "[[fault]]\nname = \"b.example\"\nhttp_status = 502\n");
    REQUIRE(p.reload().has_value());
    CHECK(p.current().rules()[1].action.http_status == 502u);

    // A fault the site cannot produce is refused at reload too, naming the owner.
    dir.write("f.toml", "[[fault]]\nname = \"b.example\"\ndrop = true\n");
    auto st = p.reload();
    REQUIRE_FALSE(st.has_value());
    CHECK(st.error().detail.find("https://127.0.0.1:0/dns-query") != std::string::npos);
    CHECK(p.current().rules()[1].action.http_status == 502u);

    // A missing file at start-up is an error, not an empty plan.
    CHECK_FALSE(fault::LivePlan::create("", (dir.path() / "missing.toml").string(), Site::Upstream,
                                        "udp://127.0.0.1:53")
                    .has_value());
    // A plan without a file is not registered for reloads.
    fault::LivePlans registry;
    auto inline_only = fault::LivePlan::create("x:drop", "", Site::Upstream, "u");
    REQUIRE(inline_only.has_value());
    registry.add(*inline_only);
    CHECK(registry.empty());
    registry.add(*live);
    CHECK_FALSE(registry.empty());
}

TEST_SUITE_END();
