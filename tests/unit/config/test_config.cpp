// SPDX-License-Identifier: MIT
#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "resolver/config/config.hpp"

namespace {
/// A config file with `text` in a fresh temporary directory, removed afterwards.
class ConfigFile {
public:
    explicit ConfigFile(const std::string& text) {
        const char* base = std::getenv("TMPDIR");
        std::string templ =
            std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/dnslab-config-XXXXXX";
        REQUIRE(mkdtemp(templ.data()) != nullptr);
        dir_ = templ;
        path_ = dir_ + "/dnslab.toml";
        std::ofstream(path_) << text;
    }
    ~ConfigFile() {
        std::remove(path_.c_str());
        rmdir(dir_.c_str());
    }
    ConfigFile(const ConfigFile&) = delete;
    ConfigFile& operator=(const ConfigFile&) = delete;
    [[nodiscard]] const std::string& path() const { return path_; }

private:
    std::string dir_;
    std::string path_;
};
} // namespace

TEST_SUITE_BEGIN("config");

// toml++'s value<int64_t>() on a float ran an out-of-range cast (undefined behaviour, found by
// tests/fuzz/fuzz_expectations in the same toml++ call): integer keys take integers only.
TEST_CASE("integer keys refuse floats, huge ones included, with the key and position") {
    for (const char* v : {"2.2e20", "1500.0", "-1"}) {
        ConfigFile f(std::string("[resolver]\ntimeout_ms = ") + v + "\n");
        auto c = resolver::config::load_file(f.path());
        REQUIRE_FALSE(c);
        CHECK(c.error().detail == f.path() +
                                      ": line 2, column 14: key 'resolver.timeout_ms' must be an "
                                      "integer from 0 to 4294967295");
    }
    ConfigFile ok("[resolver]\ntimeout_ms = 1500\n");
    auto c = resolver::config::load_file(ok.path());
    REQUIRE(c);
    CHECK(c->upstream_options.timeout_ms == 1500);
}

TEST_SUITE_END();
