// SPDX-License-Identifier: MIT
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_set>

#include "resolver/policy/domain_table.hpp"
#include "resolver/net/ip.hpp"

namespace resolver::policy {

/// Gateway list types (cloudflare-python `list_create_params.py`).
enum class ListType : std::uint8_t { Domain, Ip, Email, Url, Serial };

std::string_view list_type_name(ListType t);

/// One Gateway list, referenced from expressions as `$<id>`. Immutable once loaded.
/// DOMAIN lists hold exact names (normalised, no wildcards: Gateway rejects `*.x`); the
/// "name or any parent" semantics come from `dns.domains` holding every parent of the query
/// name, so `any(dns.domains[*] in $list)` costs one hash lookup per label.
struct PolicyList {
    std::string id;
    std::string name;
    ListType type = ListType::Domain;
    DomainTable domains;                   // DOMAIN
    net::IpSet ips;                        // IP (addresses and CIDRs)
    std::unordered_set<std::string> other; // EMAIL, URL, SERIAL: exact strings
    /// The export's `count`, when it says the list has items but the export carries none:
    /// `GET /accounts/{id}/gateway/lists` returns lists without their items. A rule that
    /// references such a list is skipped (its verdicts would be wrong), the rest loads.
    std::uint64_t count_without_items = 0;

    [[nodiscard]] std::size_t size() const noexcept {
        return type == ListType::Domain ? domains.size()
               : type == ListType::Ip   ? ips.size()
                                        : other.size();
    }
    /// Membership test for a string value (DOMAIN lists normalise case and trailing dot).
    [[nodiscard]] bool contains_string(std::string_view v) const;
    [[nodiscard]] bool contains_ip(const net::IpAddr& a) const { return ips.contains(a); }
};

} // namespace resolver::policy
