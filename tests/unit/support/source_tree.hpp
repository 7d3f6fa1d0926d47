// SPDX-License-Identifier: MIT
// Where the unit tests find the source tree's fixtures/. meson passes DNSLAB_SOURCE_ROOT
// (tests/meson.build), so the binary works from any build folder; run by hand, it is found
// from this file's compile-time path. A missing fixture is a test failure, never a silent
// relative path.
#pragma once
#include <cstdlib>
#include <filesystem>
#include <system_error>

#include <doctest/doctest.h>

namespace test_support {

inline std::filesystem::path source_root() {
    namespace fs = std::filesystem;
    const fs::path probe = fs::path("fixtures") / "policy" / "rules.json";
    if (const char* root = std::getenv("DNSLAB_SOURCE_ROOT"); root != nullptr && *root != '\0') {
        if (!fs::exists(fs::path(root) / probe)) {
            FAIL("DNSLAB_SOURCE_ROOT=" << root << " has no " << probe.string());
        }
        return root;
    }
    std::error_code ec;
    for (fs::path dir = fs::absolute(fs::path(__FILE__), ec).parent_path();
         !dir.empty() && dir != dir.root_path(); dir = dir.parent_path()) {
        if (fs::exists(dir / probe, ec)) {
            return dir;
        }
    }
    FAIL("cannot find the source tree's fixtures/: set DNSLAB_SOURCE_ROOT");
    return {};
}

inline std::filesystem::path fixtures_dir() {
    return source_root() / "fixtures";
}

} // namespace test_support
