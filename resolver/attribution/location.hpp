// SPDX-License-Identifier: MIT
#pragma once
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "resolver/policy/ip.hpp"

namespace resolver::attribution {

/// One Gateway DNS location as the API exports it (reference §4.3). Immutable once loaded.
struct Location {
    std::string id;
    std::string name;
    bool client_default = false;
    std::string doh_subdomain;                 // also the DoT subdomain
    std::optional<policy::IpAddr> ipv6;        // `ip`: the location's own resolver IPv6
    std::optional<policy::IpAddr> ipv4_destination; // dedicated resolver IPv4 (Enterprise)
    std::optional<policy::IpAddr> ipv4_destination_backup;
    std::vector<policy::IpRange> networks;     // `networks[].network`: IPv4 source networks
    bool ecs_support = false;
    /// `endpoints.*.enabled`; absent endpoints object = every endpoint enabled.
    bool ipv4_enabled = true;
    bool ipv6_enabled = true;
    bool dot_enabled = true;
    bool doh_enabled = true;
    bool doh_require_token = false;
};

/// Every location plus the indexes attribution needs. Built once by policy::load.
struct LocationMap {
    std::vector<Location> locations;
    std::unordered_map<std::string, std::size_t> by_subdomain; // lower-case doh_subdomain
    /// Source networks with their location index, longest prefix first.
    std::vector<std::pair<policy::IpRange, std::size_t>> networks;
    const Location* client_default = nullptr;

    [[nodiscard]] const Location* find_by_id(std::string_view id) const;
    [[nodiscard]] const Location* find_by_subdomain(std::string_view sub) const;
    /// Rebuilds the indexes after `locations` changed (pointers into `locations` stay valid
    /// only while the vector is not modified again).
    void index();
};

} // namespace resolver::attribution
