// SPDX-License-Identifier: MIT
// The lab identity map loader (resolver/policy/load.cpp): tokens, source CIDRs, groups and
// SAML attributes. Asserted: an error names the file; lookups by token and by address return
// an entry of the map or nothing.
#include <cstdint>
#include <string>

#include "resolver/policy/load.hpp"
#include "resolver/net/ip.hpp"
#include "tests/fuzz/fuzz_support.hpp"

using namespace resolver::policy;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    PolicyTexts texts;
    texts.identities = std::string(fuzz::as_text(data, size));
    auto set = load_policy_texts(texts);
    if (!set) {
        FUZZ_CHECK(set.error().detail.rfind("identities", 0) == 0,
                   "an error that does not name the file: " + set.error().detail);
        return 0;
    }
    const IdentityMap& ids = (*set)->identities;
    for (std::string_view token : {"", "token-alice", "x"}) {
        for (const char* src : {"192.0.2.10", "2001:db8::1", "10.0.0.1"}) {
            const Identity* who = ids.find(token, resolver::net::IpAddr::parse(src));
            bool ours = who == nullptr;
            for (const auto& e : ids.entries) {
                ours = ours || who == &e.identity;
            }
            FUZZ_CHECK(ours, "find() returned an identity outside the map");
        }
    }
    return 0;
}
