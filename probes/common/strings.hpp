// SPDX-License-Identifier: MIT
// Small string helpers the probe's subcommands share.
#pragma once
#include <algorithm>
#include <cctype>
#include <string>

#include <nlohmann/json.hpp>

namespace probes::common {

/// `s` in lower case, byte by byte: for DNS names (compared case-insensitively, RFC 4343),
/// transport and header names.
inline std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

/// The string `j[key]`; "" when `j` has no such key or its value is not a string (the fields
/// of an export or a report are optional, and a missing one reads as empty).
inline std::string json_string(const nlohmann::json& j, const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string{};
}

} // namespace probes::common
