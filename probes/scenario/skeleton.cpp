// SPDX-License-Identifier: MIT
// `scenario new DIR`: a scenario skeleton that runs green as written, so writing a case
// starts from something that works and changes one file at a time.
#include <fstream>
#include <system_error>

#include "probes/scenario/scenario.hpp"

namespace probes::scenario {
namespace fs = std::filesystem;

namespace {

// A TOML basic string (https://toml.io/en/v1.0.0#string): quotes, backslashes and control
// characters escaped.
std::string toml_string(const std::string& s) {
    std::string out = "\"";
    for (char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (u < 0x20 || u == 0x7F) {
            static const char* kHex = "0123456789ABCDEF";
            out += "\\u00";
            out += kHex[u >> 4];
            out += kHex[u & 0xF];
        } else {
            out += c;
        }
    }
    return out + "\"";
}

// Gateway's API envelope around an empty result: what an account without rules, lists or
// locations exports (docs/policy.md).
constexpr const char* kEmptyExport =
    "{\"success\":true,\"errors\":[],\"messages\":[],\"result\":[]}\n";

std::string scenario_toml(const std::string& description) {
    return "description = " + toml_string(description) +
           "\n"
           "\n"
           "# The lab resolver's config (docs/configuration.md). Its upstream is the fixture,\n"
           "# answering from answers.txt (docs/fixtures.md, \"Answers files\"); ra=1 makes it\n"
           "# look like a recursive resolver.\n"
           "[lab]\n"
           "upstream = [\"fixture:?answers=answers.txt&ra=1\"]\n"
           "\n"
           "# The customer's Gateway exports, verbatim (API envelope). Empty: no rule matches,\n"
           "# every query is allowed.\n"
           "[lab.policy]\n"
           "rules = \"rules.json\"\n"
           "lists = \"lists.json\"\n"
           "locations = \"locations.json\"\n"
           "\n"
           "# [run] narrows the transports or changes the probe's timeout:\n"
           "# [run]\n"
           "# transports = [\"udp\", \"tcp\", \"tls\", \"https-get\", \"https-post\"]\n"
           "# timeout_ms = 3000\n";
}

constexpr const char* kExpect =
    "# The expectations, in dnslab-probe check's format (docs/probe.md, \"check FILE\").\n"
    "# Every case runs over every transport of the scenario.\n"
    "[[case]]\n"
    "id = \"www.example.org resolves\"\n"
    "name = \"www.example.org\"\n"
    "type = \"A\"\n"
    "expect = \"allowed\"\n"
    "answer = [\"203.0.113.7\"]\n"
    "\n"
    "# The customer's symptom as a second case, for example:\n"
    "# [[case]]\n"
    "# id = \"blocked over DoH only\"\n"
    "# name = \"app.example.org\"\n"
    "# transports = [\"https-get\", \"https-post\"]\n"
    "# expect = \"blocked\"\n";

constexpr const char* kAnswers =
    "# What the upstream answers: name type value [ttl] per line, no zone file, no SOA\n"
    "# (docs/fixtures.md, \"Answers files\").\n"
    "www.example.org    A      203.0.113.7\n"
    "www.example.org    AAAA   2001:db8::7    60\n";

std::string readme(const std::string& name, const std::string& description) {
    return "# " + name + "\n\nReproduces: **\"" + description +
           "\"**\n\n"
           "- `dnslab-probe scenario run " +
           name +
           "`: what the lab answers, per transport.\n"
           "- Cause and fix: TODO (a `fixed/` folder with its own scenario.toml and expect.toml\n"
           "  shows the fix; docs/scenarios.md).\n";
}

resolver::Status write_file(const fs::path& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    out.close();
    if (!out) {
        return resolver::fail(resolver::Errc::ConfigInvalid, "cannot write " + path.string());
    }
    return resolver::ok();
}

} // namespace

resolver::Result<std::vector<std::string>> new_scenario(const fs::path& dir,
                                                        const std::string& description) {
    std::error_code ec;
    if (fs::exists(dir, ec)) {
        if (!fs::is_directory(dir, ec)) {
            return resolver::fail(resolver::Errc::ConfigInvalid,
                                  dir.string() + " exists and is not a directory");
        }
        if (!fs::is_empty(dir, ec)) {
            return resolver::fail(resolver::Errc::ConfigInvalid,
                                  dir.string() + " is not empty: refusing to write into it");
        }
    }
    if (!fs::create_directories(dir, ec) && ec) {
        return resolver::fail(resolver::Errc::ConfigInvalid,
                              "cannot create " + dir.string() + ": " + ec.message());
    }
    auto name = fs::absolute(dir).lexically_normal().filename().string();
    if (name.empty()) {
        name = fs::absolute(dir).lexically_normal().parent_path().filename().string();
    }
    const std::string desc =
        description.empty() ? "TODO: the customer's symptom, in their words" : description;
    const std::vector<std::pair<std::string, std::string>> files{
        {"scenario.toml", scenario_toml(desc)},
        {"expect.toml", kExpect},
        {"answers.txt", kAnswers},
        {"rules.json", kEmptyExport},
        {"lists.json", kEmptyExport},
        {"locations.json", kEmptyExport},
        {"README.md", readme(name, desc)},
    };
    std::vector<std::string> written;
    for (const auto& [file, text] : files) {
        if (auto st = write_file(dir / file, text); !st) {
            return st.error();
        }
        written.push_back(file);
    }
    return written;
}

} // namespace probes::scenario
