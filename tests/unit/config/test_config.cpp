// SPDX-License-Identifier: MIT
#include <doctest/doctest.h>

#include <sched.h>
#include <unistd.h>

#include <algorithm>
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

TEST_CASE("workers = \"auto\" counts the CPUs the affinity mask allows, not every online CPU") {
    // As under `taskset -c 0` or a container's cpuset: the mask of this thread, narrowed to its
    // first CPU for the test and restored after.
    cpu_set_t saved;
    CPU_ZERO(&saved);
    REQUIRE(sched_getaffinity(0, sizeof saved, &saved) == 0);
    int first = 0;
    while (first < CPU_SETSIZE && !CPU_ISSET(first, &saved)) {
        ++first;
    }
    REQUIRE(first < CPU_SETSIZE);
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(first, &one);
    REQUIRE(sched_setaffinity(0, sizeof one, &one) == 0);
    const unsigned narrowed = resolver::config::usable_cpus();
    const auto workers = resolver::config::parse_workers("auto");
    REQUIRE(sched_setaffinity(0, sizeof saved, &saved) == 0);
    CHECK(narrowed == 1);
    CHECK(workers.value() == 1);
    CHECK(resolver::config::usable_cpus() == static_cast<unsigned>(CPU_COUNT(&saved)));
}

TEST_CASE("workers: 1 by default, an integer from 1 to 64 or \"auto\" (the cores)") {
    using resolver::config::parse_workers;
    CHECK(resolver::config::Config{}.workers == 1);
    CHECK(parse_workers("1").value() == 1);
    CHECK(parse_workers("64").value() == 64);
    CHECK(parse_workers("auto").value() == std::clamp(resolver::config::usable_cpus(), 1U, 64U));
    for (const char* bad : {"0", "65", "-1", "2x", "", " 2", "two", "1.5"}) {
        auto w = parse_workers(bad);
        REQUIRE_FALSE(w);
        CHECK(w.error().detail == std::string("workers must be an integer from 1 to 64 or "
                                              "\"auto\", not '") +
                                      bad + "'");
    }
    ConfigFile two("[resolver]\nworkers = 2\n");
    auto c = resolver::config::load_file(two.path());
    REQUIRE(c);
    CHECK(c->workers == 2);
    ConfigFile autos("[resolver]\nworkers = \"auto\"\n");
    c = resolver::config::load_file(autos.path());
    REQUIRE(c);
    CHECK(c->workers == std::clamp(resolver::config::usable_cpus(), 1U, 64U));
    ConfigFile zero("[resolver]\nworkers = 0\n");
    c = resolver::config::load_file(zero.path());
    REQUIRE_FALSE(c);
    CHECK(c.error().detail == zero.path() +
                                  ": line 2, column 11: key 'resolver.workers': workers must be an "
                                  "integer from 1 to 64 or \"auto\", not '0'");
    ConfigFile wrong("[resolver]\nworkers = true\n");
    c = resolver::config::load_file(wrong.path());
    REQUIRE_FALSE(c);
    CHECK(c.error().detail.find("key 'resolver.workers'") != std::string::npos);
}

TEST_SUITE_END();
