// SPDX-License-Identifier: MIT
#include <doctest/doctest.h>

#include "policy_test_util.hpp"
#include "resolver/attribution/attribute.hpp"
#include "resolver/policy/behaviour.hpp"

using namespace resolver::attribution;
namespace net = resolver::net;
using resolver::net::IpAddr;
using resolver::policy::Behaviour;

TEST_SUITE_BEGIN("attribution");

TEST_CASE("each transport hint attributes the query to its location") {
    auto set = resolver::policy::load_policy(policy_test::fixture_files());
    REQUIRE(set);
    const LocationMap& map = (*set)->locations;
    Behaviour b;
    struct Row {
        const char* what;
        AttributionInput in;
        const char* location; // name, or "" for none
        const char* reason_prefix;
    };
    auto ip = [](const char* s) { return net::IpAddr::parse(s); };
    std::string_view edns_br = "BR4NCH0B2C";
    const Row rows[] = {
        {"DoH host",
         {net::Transport::Https, ip("192.0.2.1"), ip("127.0.0.1"), "",
          "hq7x2k9m1a.cloudflare-gateway.com", "/dns-query", "", std::nullopt},
         "HQ",
         "doh-host:hq7x2k9m1a"},
        {"DoH path",
         {net::Transport::Https, ip("192.0.2.1"), ip("127.0.0.1"), "", "127.0.0.1",
          "/dns-query/br4nch0b2c", "", std::nullopt},
         "Branch",
         "doh-path:br4nch0b2c"},
        {"DoH header",
         {net::Transport::Https, ip("127.0.0.1"), ip("127.0.0.1"), "", "dns.cloudflare-gateway.com",
          "/dns-query", "hq7x2k9m1a", std::nullopt},
         "HQ",
         "doh-header:hq7x2k9m1a"},
        {"DoH unknown subdomain",
         {net::Transport::Https, ip("127.0.0.1"), ip("127.0.0.1"), "",
          "nope.cloudflare-gateway.com", "/dns-query", "", std::nullopt},
         "",
         "none: doh-host:nope"},
        {"DoH without a hint -> client default",
         {net::Transport::Https, ip("127.0.0.1"), ip("127.0.0.1"), "", "127.0.0.1", "/dns-query",
          "", std::nullopt},
         "Roaming (WARP default)",
         "client-default"},
        {"DoT SNI",
         {net::Transport::Tls, ip("127.0.0.1"), ip("127.0.0.1"),
          "br4nch0b2c.cloudflare-gateway.com", "", "", "", std::nullopt},
         "Branch",
         "dot-sni:br4nch0b2c"},
        {"DoT generic name + EDNS 65011",
         {net::Transport::Tls, ip("127.0.0.1"), ip("127.0.0.1"), "dns.cloudflare-gateway.com", "",
          "", "", edns_br},
         "Branch",
         "edns-65011:br4nch0b2c"},
        {"Do53 source network",
         {net::Transport::Udp, ip("127.0.0.9"), ip("127.0.0.1"), "", "", "", "", std::nullopt},
         "HQ",
         "src-network:127.0.0.0/24"},
        {"Do53 second network",
         {net::Transport::Tcp, ip("127.0.1.9"), ip("127.0.0.1"), "", "", "", "", std::nullopt},
         "Branch",
         "src-network:127.0.1.0/24"},
        {"Do53 dedicated destination IPv4 beats the source",
         {net::Transport::Udp, ip("127.0.0.9"), ip("127.0.2.53"), "", "", "", "", std::nullopt},
         "Branch",
         "dst-ipv4:127.0.2.53"},
        {"Do53 IPv6 destination",
         {net::Transport::Udp, ip("::1"), ip("::1"), "", "", "", "", std::nullopt},
         "Roaming (WARP default)",
         "dst-ipv6:::1"},
        {"Do53 EDNS 65011",
         {net::Transport::Udp, ip("10.0.0.1"), ip("127.0.0.1"), "", "", "", "", edns_br},
         "Branch",
         "edns-65011:br4nch0b2c"},
        {"Do53 nothing matches",
         {net::Transport::Udp, ip("10.0.0.1"), ip("127.0.0.1"), "", "", "", "", std::nullopt},
         "",
         "none:"},
    };
    for (const auto& row : rows) {
        CAPTURE(row.what);
        auto m = attribute(map, row.in, b.attribution());
        CHECK(std::string(m.location != nullptr ? m.location->name : "") == row.location);
        CAPTURE(m.reason.view());
        CHECK(m.reason.view().rfind(row.reason_prefix, 0) == 0);
    }
    Behaviour strict;
    strict.client_default_fallback = false;
    auto none = attribute(map,
                          {net::Transport::Https, ip("127.0.0.1"), ip("127.0.0.1"), "", "127.0.0.1",
                           "/dns-query", "", std::nullopt},
                          strict.attribution());
    CHECK(none.location == nullptr);
    auto doh = attribute(map, rows[0].in, b.attribution());
    CHECK(doh.doh_subdomain == "hq7x2k9m1a");
    CHECK(doh.dot_subdomain.empty());
}

TEST_SUITE_END();
