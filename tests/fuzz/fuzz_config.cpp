// SPDX-License-Identifier: MIT
// The resolver's TOML config file (resolver/config/config.cpp, which only reads a path: the
// bytes go to a temporary file), then its `[behaviour]` table the way start-up hands it on:
// re-serialized by toml++ and parsed by the policy module. Asserted: an error names the
// file; the re-serialized table parses the same as the table read directly.
#include <cstdint>
#include <sstream>
#include <string>

#include <toml++/toml.h>

#include "resolver/config/config.hpp"
#include "resolver/policy/behaviour.hpp"
#include "tests/fuzz/fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const fuzz::TempDir dir;
    const auto path = dir.write("dnslab.toml", fuzz::as_text(data, size));
    auto c = resolver::config::load_file(path.string());
    if (!c) {
        FUZZ_CHECK(c.error().detail.rfind(path.string(), 0) == 0,
                   "an error that does not name the file: " + c.error().detail);
        return 0;
    }
    auto from_config = resolver::policy::parse_behaviour_toml(c->behaviour_toml);
    // The same table read straight from the document, without the re-serialization.
    const toml::table doc = toml::parse(fuzz::as_text(data, size));
    const toml::table* table = doc["behaviour"].as_table();
    const toml::table empty;
    auto direct = resolver::policy::parse_behaviour(table != nullptr ? *table : empty);
    FUZZ_CHECK(from_config.has_value() == direct.has_value(),
               "[behaviour] parses differently once re-serialized:\n" + c->behaviour_toml +
                   "\nvia config: " + (from_config ? "ok" : from_config.error().detail) +
                   "\ndirect: " + (direct ? "ok" : direct.error().detail));
    if (direct) {
        FUZZ_CHECK(from_config->to_json() == direct->to_json(),
                   "[behaviour] values change once re-serialized:\n" + c->behaviour_toml);
    }
    return 0;
}
