// SPDX-License-Identifier: MIT
// The lists export loader (resolver/policy/lists_json.cpp): nlohmann-json's SAX parser
// streaming items into domain tables, IP sets and string sets. Asserted: an error names the
// file; every loaded list answers membership queries; the loader is deterministic.
#include <cstdint>
#include <string>

#include "resolver/policy/lists_json.hpp"
#include "resolver/net/ip.hpp"
#include "tests/fuzz/fuzz_support.hpp"

using namespace resolver::policy;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text = fuzz::as_text(data, size);
    auto lists = load_lists_json(text, "lists.json");
    auto again = load_lists_json(text, "lists.json");
    FUZZ_CHECK(lists.has_value() == again.has_value(), "the loader is not deterministic");
    if (!lists) {
        FUZZ_CHECK(lists.error().detail.rfind("lists.json", 0) == 0,
                   "an error that does not name the file: " + lists.error().detail);
        FUZZ_CHECK(lists.error().detail == again.error().detail, "the error is not deterministic");
        return 0;
    }
    FUZZ_CHECK(lists->size() == again->size(), "the loader is not deterministic");
    for (std::size_t i = 0; i < lists->size(); ++i) {
        const PolicyList& l = *(*lists)[i];
        FUZZ_CHECK(l.id == (*again)[i]->id && l.size() == (*again)[i]->size(),
                   "list " + l.id + " differs between two loads");
        for (std::string_view probe : {"example.com", "corp.example.com.", "CORP.EXAMPLE.COM", "",
                                       ".", "alice@example.com"}) {
            (void)l.contains_string(probe);
        }
        for (std::string_view ip : {"192.0.2.1", "2001:db8::1", "0.0.0.0", "::"}) {
            (void)l.contains_ip(*resolver::net::IpAddr::parse(ip));
        }
    }
    return 0;
}
