// SPDX-License-Identifier: MIT
// The `[behaviour]` TOML (resolver/policy/behaviour.cpp) through toml++. Asserted: parsing is
// deterministic, an error has a message, and the settings rendered for the log (to_json) are
// valid JSON.
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "resolver/policy/behaviour.hpp"
#include "tests/fuzz/fuzz_support.hpp"

using namespace resolver::policy;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text = fuzz::as_text(data, size);
    auto b = parse_behaviour_toml(text);
    if (!b) {
        FUZZ_CHECK(!b.error().detail.empty(), "an error without a message");
        return 0;
    }
    const std::string json = b->to_json();
    FUZZ_CHECK(nlohmann::json::accept(json), "to_json() is not JSON: " + json);
    auto again = parse_behaviour_toml(text);
    FUZZ_CHECK(again && again->to_json() == json, "parsing is not deterministic");
    return 0;
}
