// SPDX-License-Identifier: MIT
// Helpers shared by the policy unit tests: the source tree's fixtures and small builders.
#pragma once
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "resolver/policy/load.hpp"
#include "tests/unit/support/source_tree.hpp"

namespace policy_test {

using test_support::fixtures_dir;

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
