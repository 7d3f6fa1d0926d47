// SPDX-License-Identifier: MIT
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "resolver/net/ip.hpp"

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

/// The transport a URL scheme names: the names only (URLs take no aliases); nullopt for
/// anything else (util::kSchemeDns, util::kSchemeFixture, a typo).
constexpr std::optional<Transport> transport_from_scheme(std::string_view s) {
    for (const auto& r : kTransports) {
        if (s == r.name) {
            return r.transport;
        }
    }
    return std::nullopt;
}

/// Room for the longest presentation form of an address (INET6_ADDRSTRLEN, with its NUL).
using IpText = std::array<char, 46>;
/// `ip` in presentation form, as inet_ntop(3) spells it and IpAddr::to_string() returns it,
/// written into `buf` without allocating (the log prints two addresses per query).
std::string_view format_ip(const IpAddr& ip, IpText& buf) noexcept;

/// An IP address and a port, binary as the socket gave them: the listener does not format
/// the client's address and the stages do not parse it back; only what prints it (the log,
/// explain) formats it, with ip_text().
struct Endpoint {
    std::optional<IpAddr> ip; // nullopt: unknown (no socket address)
    std::uint16_t port = 0;

    Endpoint() = default;
    Endpoint(std::optional<IpAddr> address, std::uint16_t p) : ip(address), port(p) {}
    /// From presentation text ("192.0.2.1", "2001:db8::1"), for explain, replay and tests;
    /// `ip` stays empty when the text is not an address.
    Endpoint(std::string_view text, std::uint16_t p) : ip(IpAddr::parse(text)), port(p) {}

    /// The address in presentation form ("" when unknown), written into `buf`.
    [[nodiscard]] std::string_view ip_text(IpText& buf) const {
        return ip ? format_ip(*ip, buf) : std::string_view();
    }
    [[nodiscard]] std::string ip_string() const { return ip ? ip->to_string() : std::string(); }
};

/// A listener's URL as printed in the ready file, shared by every query of the listener: a
/// copy costs a reference count, not an allocation (a UDP listener hands one to each datagram).
class ListenerName {
public:
    ListenerName() = default;
    // NOLINTNEXTLINE(google-explicit-constructor): assigned from URL text like a string
    ListenerName(std::string url) : url_(std::make_shared<const std::string>(std::move(url))) {}
    [[nodiscard]] std::string_view view() const noexcept {
        return url_ ? std::string_view(*url_) : std::string_view();
    }
    [[nodiscard]] std::string str() const { return std::string(view()); }

private:
    std::shared_ptr<const std::string> url_; // null: no listener (explain without one)
};

/// Every transport detail that can decide a Gateway location or appear in the log.
/// Filled by the listener; past decode the stages see the transport only as this data.
struct TransportInfo {
    net::Transport protocol = net::Transport::Udp;
    Endpoint src;                   // the client
    Endpoint dst;                   // the local address and port the query reached
    ListenerName listener;          // the listener URL, as printed in the ready file
    std::string sni;                // TLS server name (DoT and DoH), "" when absent
    std::string http_host;          // DoH :authority or Host header, without port
    std::string http_path;          // DoH request path without the query string
    std::string http_location;      // DoH `cf-dns-location` header
    std::string http_authorization; // DoH `CF-Authorization` header (a user token)
    /// dns.src_internal_ip: the private source address of DNS from a private on-ramp (a
    /// listener with ?internal=1 sets the client's address; explain --src-internal-ip);
    /// nullopt for ordinary traffic.
    std::optional<IpAddr> src_internal_ip;
    /// Largest response the transport can carry: the client's EDNS size on UDP is applied
    /// later by the stages; streams carry 65535.
    bool datagram = true;
};

} // namespace resolver::net
