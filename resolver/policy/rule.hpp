// SPDX-License-Identifier: MIT
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "resolver/policy/expr.hpp"
#include "resolver/net/ip.hpp"
#include "resolver/policy/tz.hpp"

namespace resolver::policy {

/// DNS actions (reference §1.2) plus `resolve` for resolver policies.
enum class Action : std::uint8_t { Allow, Block, Override, SafeSearch, YtRestricted, Resolve };
std::string_view action_name(Action a);

/// One `dns_resolvers.ipv4[]`/`ipv6[]` entry (reference §1.4).
struct ResolverAddress {
    net::IpAddr ip;
    std::uint16_t port = 53;
    bool route_through_private_network = false;
    std::string vnet_id;
    /// "ip:port", IPv6 in brackets: the CustomResolverAddress log form.
    [[nodiscard]] std::string to_string() const;
};

/// `rule_settings` fields the DNS and resolver engines use (reference §1.3).
struct RuleSettings {
    bool block_page_enabled = false;
    std::string block_reason;
    std::string block_page_target_uri;
    std::vector<net::IpAddr> override_ips;
    std::string override_host;
    bool insecure_disable_dnssec_validation = false;
    bool ip_categories = false;
    bool ip_indicator_feeds = false; // also match the indicator feeds of the resolved IPs
    bool ignore_cname_category_matches = false;
    bool resolve_dns_through_cloudflare = false;
    std::vector<ResolverAddress> dns_resolvers; // ipv4 entries first, then ipv6, in order
    bool resolve_dns_internally = false;
    std::string internal_view_id;
    std::string internal_fallback; // "none" | "public_dns"
};

/// `schedule`: per weekday, minute intervals [start, end) in the rule's time zone.
struct Schedule {
    std::array<std::vector<std::pair<int, int>>, 7> days; // 0 = Sunday .. 6 = Saturday
    std::string time_zone;                                // "" = UTC (lab default)
    std::shared_ptr<const TimeZone> tz;
    /// True when the rule is active at unix time `now`.
    [[nodiscard]] bool active_at(std::int64_t now) const;
};

/// One Gateway rule, compiled. Immutable once in a PolicySet.
struct Rule {
    std::string id;
    std::string name;
    std::string description;
    std::int64_t precedence = 0;
    bool enabled = true;
    Action action = Action::Allow;
    bool resolver_policy = false; // filters: ["dns_resolver"]
    Expr traffic;
    Expr identity;
    Expr device_posture; // over device_posture.checks.*: the identity map's posture results
    RuleSettings settings;
    std::optional<Schedule> schedule;
    std::optional<std::int64_t> expires_at; // unix seconds
    bool expired = false;                   // `expiration.expired` as exported
    /// The evaluation phase: the later of the traffic and identity phases. During counts as
    /// Post (reference §1.6: a rule that mixes phases runs entirely after resolution).
    Phase phase = Phase::Pre;
    [[nodiscard]] bool uses(FieldId f) const {
        return traffic.uses(f) || identity.uses(f) || device_posture.uses(f);
    }
    [[nodiscard]] bool uses_category() const {
        return traffic.uses_category() || identity.uses_category() ||
               device_posture.uses_category();
    }
};

} // namespace resolver::policy
