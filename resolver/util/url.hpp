// SPDX-License-Identifier: MIT
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "resolver/core/result.hpp"

namespace resolver::util {

/// URL schemes that name no single transport (a transport's scheme is its name in
/// net::kTransports): a listener on UDP and TCP of one port, and the zone-file upstream.
inline constexpr std::string_view kSchemeDns = "dns";
inline constexpr std::string_view kSchemeFixture = "fixture";

/// A listener or upstream URL: `udp://127.0.0.1:53`, `tls://[::1]:853?sni=x`,
/// `https://dns.example:443/dns-query?method=post`, `fixture:fixtures/zones`.
struct Url {
    std::string scheme; // lower-cased: udp, tcp, tls, https, fixture
    std::string host;   // without IPv6 brackets; for `fixture:` the directory
    std::optional<std::uint16_t> port;
    std::string path;                          // "/dns-query"; "" when absent
    std::map<std::string, std::string> params; // from ?a=b&c=d, percent-decoded

    /// host:port, with brackets around IPv6 hosts.
    [[nodiscard]] std::string authority() const;
    /// The URL back in text, parameters included.
    [[nodiscard]] std::string to_string() const;
    [[nodiscard]] std::uint16_t port_or(std::uint16_t fallback) const {
        return port.value_or(fallback);
    }
    [[nodiscard]] std::string param(const std::string& key, std::string fallback = "") const;
};

/// Parses a URL; the error names the part that is wrong.
Result<Url> parse_url(std::string_view text);

/// True when `host` is an IPv4 or IPv6 literal.
bool is_ip_literal(std::string_view host);
bool is_ipv6_literal(std::string_view host);

} // namespace resolver::util
