// SPDX-License-Identifier: MIT
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "resolver/net/ip.hpp"

namespace resolver::attribution {

/// One Gateway DNS location as the API exports it (reference §4.3). Immutable once loaded.
struct Location {
    std::string id;
    std::string name;
    bool client_default = false;
    std::string doh_subdomain;                   // also the DoT subdomain
    std::optional<net::IpAddr> ipv6;             // `ip`: the location's own resolver IPv6
    std::optional<net::IpAddr> ipv4_destination; // dedicated resolver IPv4 (Enterprise)
    std::optional<net::IpAddr> ipv4_destination_backup;
    std::vector<net::IpRange> networks; // `networks[].network`: IPv4 source networks
    bool ecs_support = false;
    /// `endpoints.*.enabled`; absent endpoints object = every endpoint enabled.
    bool ipv4_enabled = true;
    bool ipv6_enabled = true;
    bool dot_enabled = true;
    bool doh_enabled = true;
    bool doh_require_token = false;
    /// `max_ttl` (reference §3, maximum DNS TTL): the location inherits the account's cap,
    /// disables it, or overrides it with ttl_secs (60..36000).
    struct MaxTtl {
        enum class Mode : std::uint8_t { Inherit, Disabled, Override };
        Mode mode = Mode::Inherit;
        std::uint32_t ttl_secs = 0;
    } max_ttl;

    /// The TTL cap for upstream answers at this location given the account's (0: none).
    [[nodiscard]] std::uint32_t effective_max_ttl(std::uint32_t account_max_ttl) const noexcept {
        switch (max_ttl.mode) {
        case MaxTtl::Mode::Disabled:
            return 0;
        case MaxTtl::Mode::Override:
            return max_ttl.ttl_secs;
        case MaxTtl::Mode::Inherit:
            break;
        }
        return account_max_ttl;
    }
};

/// Every location plus the indexes attribution needs. Built once by policy::load.
struct LocationMap {
    std::vector<Location> locations;
    std::unordered_map<std::string, std::size_t> by_subdomain; // lower-case doh_subdomain
    /// Source networks with their location index, longest prefix first.
    std::vector<std::pair<net::IpRange, std::size_t>> networks;
    std::vector<std::string> network_reasons; // "src-network:CIDR", parallel to networks
    const Location* client_default = nullptr;

    [[nodiscard]] const Location* find_by_id(std::string_view id) const;
    [[nodiscard]] const Location* find_by_subdomain(std::string_view sub) const;
    /// Rebuilds the indexes after `locations` changed (pointers into `locations` stay valid
    /// only while the vector is not modified again).
    void index();
};

} // namespace resolver::attribution
