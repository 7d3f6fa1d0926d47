// SPDX-License-Identifier: MIT
// Issue 12 defect 2 for the TOML configuration: numbers out of range and wrong types are
// errors naming the file, line and key; nothing thrown reaches main().
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include <doctest/doctest.h>

#include "resolver/config/config.hpp"

using namespace resolver;

namespace {

/// Writes `toml` to a fresh temporary file and loads it.
Result<config::Config> load_text(const std::string& toml) {
    static int n = 0;
    const auto path =
        std::filesystem::temp_directory_path() /
        ("dnslab-config-" + std::to_string(::getpid()) + "-" + std::to_string(++n) + ".toml");
    std::FILE* f = std::fopen(path.c_str(), "w");
    REQUIRE(f != nullptr);
    std::fputs(toml.c_str(), f);
    std::fclose(f);
    auto c = config::load_file(path.string());
    std::filesystem::remove(path);
    return c;
}

std::string error_of(const std::string& toml) {
    auto c = load_text(toml);
    return c ? std::string("<loaded>") : c.error().detail;
}

} // namespace

TEST_SUITE_BEGIN("config.errors");

TEST_CASE("numbers out of range and wrong types name the line and the key") {
    struct Row {
        const char* toml;
        const char* needle;
    };
    const Row rows[] = {
        {"[resolver]\ntimeout_ms = 1e400\n", "line 2"},
        {"[resolver]\ntimeout_ms = 1.5\n", "key 'resolver.timeout_ms' must be an integer"},
        {"[resolver]\ntries = \"2\"\n", "key 'resolver.tries' must be an integer from 0 to"},
        {"[resolver]\ntimeout_ms = 4294967296\n", "key 'resolver.timeout_ms' must be an integer "
                                                  "from 0 to 4294967295"},
        {"[resolver]\nudp_payload = 70000\n", "key 'resolver.udp_payload' must be an integer "
                                              "from 0 to 65535"},
        {"[resolver]\ncache_size = -1\n", "key 'resolver.cache_size' must be an integer"},
        {"[resolver]\ncache_size = 99999999999999999999\n", "line 2"},
        {"listen = \"dns://127.0.0.1:0\"\n", "key 'listen' must be a list of strings"},
        {"listen = [\"dns://127.0.0.1:0\", 5]\n", "key 'listen' must be a list of strings"},
        {"log_json = 5\n", "key 'log_json' must be a string"},
    };
    for (const auto& r : rows) {
        const std::string e = error_of(r.toml);
        const std::string toml = r.toml;
        CAPTURE(toml);
        CAPTURE(e);
        CHECK(e.find(".toml: ") != std::string::npos);
        CHECK(e.find(r.needle) != std::string::npos);
    }
}

TEST_CASE("a config that is a directory or missing is an error, not an exception") {
    auto c = config::load_file(std::filesystem::temp_directory_path().string());
    REQUIRE_FALSE(c);
    CHECK(c.error().code == Errc::ConfigInvalid);
    c = config::load_file("/nonexistent/dnslab.toml");
    REQUIRE_FALSE(c);
    CHECK(c.error().detail.find("/nonexistent/dnslab.toml") == 0);
}

TEST_SUITE_END();
