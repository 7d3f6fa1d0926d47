// SPDX-License-Identifier: MIT
#pragma once
#include <optional>
#include <string>
#include <string_view>

#include "resolver/attribution/location.hpp"
#include "resolver/net/ip.hpp"
#include "resolver/net/transport.hpp"

namespace resolver::attribution {

/// The transport facts that can decide a location. Views must outlive the call only.
struct AttributionInput {
    net::Transport transport = net::Transport::Udp;
    std::optional<net::IpAddr> src;                // client address
    std::optional<net::IpAddr> dst;                // our address the query reached
    std::string_view sni;                          // DoT/DoH TLS server name
    std::string_view http_host;                    // DoH :authority / Host, no port
    std::string_view http_path;                    // DoH path without query string
    std::string_view http_location;                // DoH `cf-dns-location` header
    std::optional<std::string_view> edns_location; // EDNS option 65011 payload
};

/// The account settings attribution reads (policy::Behaviour::attribution() fills them).
struct AttributionSettings {
    std::string_view gateway_domain = "cloudflare-gateway.com";
    /// DoH/DoT without any hint go to the `client_default` location (the WARP client's
    /// default DoH endpoint).
    bool client_default_fallback = true;
};

/// Why attribution decided as it did: a constant or the location map's own text (a view, no
/// allocation; the map is part of the policy snapshot every query pins, as is
/// LocationMatch::location), or text built for this query (an owned string).
class MatchReason {
public:
    MatchReason() = default;
    /// Text that outlives the query: a literal, or a string of the query's LocationMap.
    static MatchReason fixed(std::string_view text) {
        MatchReason r;
        r.fixed_ = text;
        return r;
    }
    MatchReason& operator=(std::string text) {
        owned_ = std::move(text);
        fixed_ = {};
        is_fixed_ = false;
        return *this;
    }
    [[nodiscard]] std::string_view view() const noexcept {
        return is_fixed_ ? fixed_ : std::string_view(owned_);
    }
    [[nodiscard]] bool empty() const noexcept { return view().empty(); }
    friend bool operator==(const MatchReason& a, std::string_view b) noexcept {
        return a.view() == b;
    }

private:
    std::string owned_;
    std::string_view fixed_;
    bool is_fixed_ = true;
};

/// The attribution outcome. `location == nullptr` means no location: the query is resolved
/// without the account's policies and logged `allowedOnNoLocation` (reference §4.1).
struct LocationMatch {
    const Location* location = nullptr;
    /// Why, for the log and `explain`: "doh-host:<sub>", "doh-path:<sub>",
    /// "doh-header:<sub>", "dot-sni:<sub>", "edns-65011:<sub>", "dst-ipv4:<ip>",
    /// "src-network:<cidr>", "dst-ipv6:<ip>", "client-default", or "none: <why>".
    MatchReason reason;
    std::string doh_subdomain; // DoHSubdomain log field ("" unless DoH)
    std::string dot_subdomain; // DoTSubdomain log field ("" unless DoT)
};

/// Attributes one query to a location, following reference §4.1 / §8.1:
///  - DoH: first label of the Host under `settings.gateway_domain` (not the generic `dns`),
///    then the lab path `/dns-query/<sub>`, then the `cf-dns-location` header, then EDNS 65011.
///    The source address is never used for DoH.
///  - DoT: first label of the SNI under the gateway domain, then EDNS 65011 (the generic
///    `dns.<gateway domain>` name).
///  - Do53: dedicated destination IPv4 (`ipv4_destination[_backup]`), then source IPv4 in a
///    location's `networks` (longest prefix), then the destination IPv6 (`ip`), then EDNS 65011.
///  - DoH/DoT with no hint at all fall back to the `client_default` location when
///    `settings.client_default_fallback` (the WARP client's default DoH endpoint). A hint
///    naming an unknown subdomain is no location, never the default.
/// Locations whose endpoint for the transport is disabled are not matched. Pure and total.
LocationMatch attribute(const LocationMap& locations, const AttributionInput& in,
                        const AttributionSettings& settings);

} // namespace resolver::attribution
