// SPDX-License-Identifier: MIT
// Helpers shared by the policy unit tests: the source tree's fixtures and small builders.
#pragma once
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "resolver/policy/load.hpp"

namespace policy_test {

/// The source tree's fixtures/: $DNSLAB_SOURCE_ROOT when set, else found walking up from cwd.
inline std::filesystem::path fixtures_dir() {
    namespace fs = std::filesystem;
    if (const char* root = std::getenv("DNSLAB_SOURCE_ROOT"); root != nullptr && *root != '\0') {
        return fs::path(root) / "fixtures";
    }
    for (fs::path dir = fs::current_path(); !dir.empty(); dir = dir.parent_path()) {
        if (fs::exists(dir / "fixtures" / "policy" / "rules.json")) {
            return dir / "fixtures";
        }
        if (dir == dir.root_path()) {
            break;
        }
    }
    return "fixtures";
}

inline resolver::policy::PolicyFiles fixture_files() {
    auto d = fixtures_dir();
    resolver::policy::PolicyFiles f;
    f.rules = (d / "policy" / "rules.json").string();
    f.lists = (d / "policy" / "lists.json").string();
    f.locations = (d / "policy" / "locations.json").string();
    f.categories = (d / "categories" / "categories.csv").string();
    f.category_ids = (d / "categories" / "ids.csv").string();
    f.geo = (d / "geo" / "geo.csv").string();
    return f;
}

} // namespace policy_test
