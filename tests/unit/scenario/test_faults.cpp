// SPDX-License-Identifier: MIT
// Fault plan extensions of issue 7: per-transport rules and the TCP reset.
#include <doctest/doctest.h>

#include "resolver/fault/plan.hpp"
#include "resolver/upstream/faulty.hpp"

using resolver::fault::FaultPlan;
using resolver::wire::Name;

TEST_CASE("faults: inline @transport restricts a rule; reset=N parses") {
    auto plan = FaultPlan::parse_inline(
        "big.example.com/TXT@udp:tc;*.example.com@tcp|tls:reset=20;*:delay=5");
    REQUIRE(plan);
    const auto big = *Name::from_text("big.example.com");
    const auto* r = plan->match(big, 16, "udp");
    REQUIRE(r != nullptr);
    CHECK(r->action.tc);
    r = plan->match(big, 16, "tcp");
    REQUIRE(r != nullptr);
    REQUIRE(r->action.reset_after);
    CHECK(*r->action.reset_after == 20);
    CHECK(r->action.describe() == "reset=20");
    r = plan->match(big, 16, "https");
    REQUIRE(r != nullptr);
    CHECK(r->action.delay_ms == 5); // falls through to the catch-all
    r = plan->match(big, 16, "fixture");
    REQUIRE(r != nullptr);
    CHECK(r->action.delay_ms == 5);
    CHECK_FALSE(FaultPlan::parse_inline("x@carrier-pigeon:drop"));
    CHECK_FALSE(FaultPlan::parse_inline("x:reset=many"));
}

TEST_CASE("faults: TOML transport (string or list) and reset_after_bytes") {
    auto plan = FaultPlan::parse_toml(R"(
[[fault]]
name = "a.example"
transport = "udp"
rcode = "REFUSED"

[[fault]]
name = "a.example"
transport = ["tcp", "tls"]
reset_after_bytes = 7
)",
                                      "t.toml");
    REQUIRE(plan);
    const auto a = *Name::from_text("a.example");
    CHECK(plan->match(a, 1, "udp")->action.rcode == std::optional<std::uint16_t>(5));
    CHECK(*plan->match(a, 1, "tls")->action.reset_after == 7);
    CHECK(plan->match(a, 1, "https") == nullptr);
    CHECK(plan->match(a, 1) == nullptr); // the transport-less lookup skips restricted rules
    auto bad = FaultPlan::parse_toml("[[fault]]\ntransport = \"ipx\"\n", "t.toml");
    REQUIRE_FALSE(bad);
    CHECK(bad.error().detail.find("ipx") != std::string::npos);
}

TEST_CASE("faults: the wrapper applies to network URLs with fault=/faults= only") {
    auto u = resolver::util::parse_url("udp://127.0.0.1:53?fault=*:drop");
    REQUIRE(u);
    CHECK(resolver::upstream::has_fault_params(*u));
    auto f = resolver::util::parse_url("fixture:/tmp/zones?fault=*:drop");
    REQUIRE(f);
    CHECK_FALSE(resolver::upstream::has_fault_params(*f));
    auto plain = resolver::util::parse_url("tls://127.0.0.1:853?sni=x");
    REQUIRE(plain);
    CHECK_FALSE(resolver::upstream::has_fault_params(*plain));
}
