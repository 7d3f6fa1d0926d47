// SPDX-License-Identifier: MIT
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace resolver::net {

/// How a DNS message travels. The one list of transports: the log's `Protocol` value,
/// attribution, URL schemes, the probe and the scenario runner all read `kTransports`.
enum class Transport : std::uint8_t { Udp, Tcp, Tls, Https };

struct TransportRow {
    Transport transport;
    /// Gateway's `Protocol` log value, and the URL scheme of listeners and upstreams.
    std::string_view name;
    /// Other spellings users type (`dot`, `doh`), accepted wherever a transport is named.
    std::string_view alias;
    /// What engineers call it in prose and reports.
    std::string_view label;
    std::uint16_t default_port;
    bool datagram;  // one message per packet, size limited by EDNS (RFC 6891)
    bool encrypted; // TLS underneath (DoT, DoH)
};

/// Adding a transport: one row here, a listener in io/, a client in upstream/ and a case in
/// runtime/'s factories (STYLE.md, "A transport").
inline constexpr std::array<TransportRow, 4> kTransports{{
    {Transport::Udp, "udp", "do53", "Do53/UDP", 53, true, false},
    {Transport::Tcp, "tcp", "", "Do53/TCP", 53, false, false},
    {Transport::Tls, "tls", "dot", "DoT", 853, false, true},
    {Transport::Https, "https", "doh", "DoH", 443, false, true},
}};

static_assert(
    [] {
        for (std::size_t i = 0; i < kTransports.size(); ++i) {
            if (static_cast<std::size_t>(kTransports[i].transport) != i) {
                return false;
            }
        }
        return true;
    }(),
    "kTransports is indexed by Transport");

constexpr const TransportRow& row(Transport t) {
    return kTransports[static_cast<std::size_t>(t)];
}

/// The log / URL spelling ("udp", "tcp", "tls", "https").
constexpr std::string_view transport_name(Transport t) {
    return row(t).name;
}

/// A transport from its name or alias, case-sensitive as URLs and logs are; nullopt if none.
constexpr std::optional<Transport> transport_from_name(std::string_view s) {
    for (const auto& r : kTransports) {
        if (s == r.name || (!r.alias.empty() && s == r.alias)) {
            return r.transport;
        }
    }
    return std::nullopt;
}

} // namespace resolver::net
