// SPDX-License-Identifier: MIT
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace probes::selftest {

/// What /etc/resolv.conf says (resolv.conf(5)): nameservers in order, search list, options.
struct ResolvConf {
    std::vector<std::string> nameservers;
    std::vector<std::string> search;
    std::vector<std::string> options;
};
/// Parses resolv.conf text; unknown lines are ignored, `#` and `;` start comments.
ResolvConf parse_resolv_conf(const std::string& text);

/// Key/values of an os-release(5) file (quotes removed).
nlohmann::json parse_os_release(const std::string& text);

/// IPv4/IPv6 literals found in free text (e.g. `resolvectl status` output), in order of
/// appearance, deduplicated. Only syntactically valid addresses (inet_pton) are returned.
std::vector<std::string> find_addresses(const std::string& text);

/// True for loopback, unspecified and link-local addresses: they identify nobody, so
/// redaction keeps them (127.0.0.53 tells an engineer that systemd-resolved is in the path).
bool is_local_only(const std::string& address);

/// Facts about the machine the self-test runs on.
struct LocalFacts {
    nlohmann::json json = nlohmann::json::object(); // the report's "local" member
    std::vector<std::string> customer_addresses;    // what --redact replaces
    std::string hostname;
};

/// Collects: resolv.conf (`resolv_conf_path`), `resolvectl status` when present (bounded by
/// `timeout 3`), os-release, uname, the interface addresses, the library versions linked in.
LocalFacts collect_local_facts(const std::string& resolv_conf_path,
                               const std::string& tool_version);

} // namespace probes::selftest
