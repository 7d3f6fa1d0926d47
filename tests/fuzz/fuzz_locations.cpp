// SPDX-License-Identifier: MIT
// The locations export loader (resolver/policy/load.cpp): networks, endpoints, max_ttl and the
// attribution indexes built from them, then every attribution path (DoH host/path/header,
// DoT SNI, Do53 destination/source, EDNS 65011) run against the loaded map. Asserted: an
// error names the file; attribution returns a location of the map or none, with a reason.
#include <cstdint>
#include <string>

#include "resolver/attribution/attribute.hpp"
#include "resolver/policy/behaviour.hpp"
#include "resolver/policy/load.hpp"
#include "resolver/net/ip.hpp"
#include "tests/fuzz/fuzz_support.hpp"

using namespace resolver::policy;
namespace attribution = resolver::attribution;

namespace {
void attribute_all(const attribution::LocationMap& map) {
    const Behaviour behaviour; // the settings view its strings
    const auto b = behaviour.attribution();
    std::vector<attribution::AttributionInput> inputs;
    for (auto t : {resolver::net::Transport::Udp, resolver::net::Transport::Tcp,
                   resolver::net::Transport::Tls, resolver::net::Transport::Https}) {
        attribution::AttributionInput in;
        in.transport = t;
        in.src = resolver::net::IpAddr::parse("192.0.2.10");
        in.dst = resolver::net::IpAddr::parse("2001:db8:54::1");
        in.sni = "hq7x2k9m1a.cloudflare-gateway.com";
        in.http_host = "hq7x2k9m1a.cloudflare-gateway.com";
        in.http_path = "/dns-query/br4nch0b2c";
        in.http_location = "r0am1ng3d4";
        in.edns_location = "hq7x2k9m1a";
        inputs.push_back(in);
        in.sni = in.http_host = in.http_path = in.http_location = "";
        in.edns_location.reset();
        in.dst = resolver::net::IpAddr::parse("127.0.2.53");
        inputs.push_back(in);
    }
    for (const auto& in : inputs) {
        const auto m = attribution::attribute(map, in, b);
        FUZZ_CHECK(!m.reason.empty(), "attribution without a reason");
        if (m.location != nullptr) {
            const bool ours = m.location >= map.locations.data() &&
                              m.location < map.locations.data() + map.locations.size();
            FUZZ_CHECK(ours, "attribution returned a location outside the map");
        }
    }
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    PolicyTexts texts;
    texts.locations = std::string(fuzz::as_text(data, size));
    auto set = load_policy_texts(texts);
    if (!set) {
        FUZZ_CHECK(set.error().detail.rfind("locations", 0) == 0,
                   "an error that does not name the file: " + set.error().detail);
        return 0;
    }
    attribute_all((*set)->locations);
    return 0;
}
