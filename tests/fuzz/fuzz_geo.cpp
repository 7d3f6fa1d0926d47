// SPDX-License-Identifier: MIT
// The geo CSV (`cidr,country,continent`, resolver/policy/geo.cpp) loaded as load_policy_texts
// does. Asserted: an error names the file and the line; lookups of v4 and v6 addresses run.
#include <cstdint>
#include <string>

#include "resolver/policy/load.hpp"
#include "resolver/net/ip.hpp"
#include "tests/fuzz/fuzz_support.hpp"

using namespace resolver::policy;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    PolicyTexts texts;
    texts.geo = std::string(fuzz::as_text(data, size));
    auto set = load_policy_texts(texts);
    if (!set) {
        FUZZ_CHECK(set.error().detail.rfind("geo: line ", 0) == 0,
                   "an error that does not name the file and line: " + set.error().detail);
        return 0;
    }
    for (std::string_view ip : {"192.0.2.1", "2001:db8::1", "0.0.0.0", "::", "::ffff:192.0.2.1",
                                "255.255.255.255", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"}) {
        (void)(*set)->geo.lookup(*resolver::net::IpAddr::parse(ip));
    }
    return 0;
}
