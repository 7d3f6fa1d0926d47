// SPDX-License-Identifier: MIT
#include "resolver/attribution/attribute.hpp"

namespace resolver::attribution {
namespace {

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out) {
        if (c >= 'A' && c <= 'Z') {
            c = static_cast<char>(c - 'A' + 'a');
        }
    }
    while (!out.empty() && out.back() == '.') {
        out.pop_back();
    }
    return out;
}

/// "<sub>.<gateway domain>" -> "<sub>"; "" for the generic "dns." name or another domain.
std::string subdomain_of(std::string_view host, std::string_view gateway_domain) {
    std::string h = lower(host);
    std::string suffix = "." + lower(gateway_domain);
    if (h.size() <= suffix.size() ||
        h.compare(h.size() - suffix.size(), suffix.size(), suffix) != 0) {
        return {};
    }
    std::string sub = h.substr(0, h.size() - suffix.size());
    if (sub.find('.') != std::string::npos) {
        sub = sub.substr(0, sub.find('.'));
    }
    return sub == "dns" ? std::string() : sub;
}

bool endpoint_enabled(const Location& l, net::Transport t, bool v6) {
    switch (t) {
    case net::Transport::Https:
        return l.doh_enabled;
    case net::Transport::Tls:
        return l.dot_enabled;
    case net::Transport::Udp:
    case net::Transport::Tcp:
        return v6 ? l.ipv6_enabled : l.ipv4_enabled;
    }
    return true;
}

} // namespace

LocationMatch attribute(const LocationMap& map, const AttributionInput& in,
                        const AttributionSettings& settings) {
    LocationMatch m;
    const bool v6 = in.dst && !in.dst->v4;
    auto by_sub = [&](std::string_view sub, std::string_view how) -> bool {
        const Location* l = map.find_by_subdomain(sub);
        if (l == nullptr || !endpoint_enabled(*l, in.transport, v6)) {
            m.reason = "none: " + std::string(how) + ":" + std::string(sub) +
                       (l == nullptr ? " (unknown subdomain)" : " (endpoint disabled)");
            return true; // a hint was given: do not fall through to weaker evidence
        }
        m.location = l;
        m.reason = std::string(how) + ":" + std::string(sub);
        return true;
    };
    auto edns = [&]() -> bool {
        if (in.edns_location && !in.edns_location->empty()) {
            return by_sub(lower(*in.edns_location), "edns-65011");
        }
        return false;
    };
    // DoH and DoT after their hints: the subdomain field of the log, and the WARP default
    // location when no hint decided (reference §4.1).
    auto encrypted = [&](bool decided, std::string& subdomain, std::string_view what) {
        if (!decided && settings.client_default_fallback && map.client_default != nullptr) {
            m.location = map.client_default;
            m.reason = MatchReason::fixed("client-default");
        }
        if (m.location != nullptr) {
            subdomain = m.location->doh_subdomain;
        } else if (!decided) {
            m.reason = "none: " + std::string(what) + " query without a location hint";
        }
    };
    if (in.transport == net::Transport::Https) {
        std::string sub = subdomain_of(in.http_host, settings.gateway_domain);
        if (sub.empty() && in.http_host.empty()) {
            sub = subdomain_of(in.sni, settings.gateway_domain);
        }
        bool decided = false;
        if (!sub.empty()) {
            decided = by_sub(sub, "doh-host");
        } else if (constexpr std::string_view kPath = "/dns-query/";
                   in.http_path.substr(0, kPath.size()) == kPath &&
                   in.http_path.size() > kPath.size()) {
            auto p = in.http_path.substr(kPath.size());
            decided = by_sub(lower(p.substr(0, p.find('/'))), "doh-path");
        } else if (!in.http_location.empty()) {
            decided = by_sub(lower(in.http_location), "doh-header");
        } else {
            decided = edns();
        }
        encrypted(decided, m.doh_subdomain, "DoH");
        return m;
    }
    if (in.transport == net::Transport::Tls) {
        std::string sub = subdomain_of(in.sni, settings.gateway_domain);
        const bool decided = !sub.empty() ? by_sub(sub, "dot-sni") : edns();
        encrypted(decided, m.dot_subdomain, "DoT");
        return m;
    }
    // Plain DNS over UDP/TCP.
    if (in.dst && in.dst->v4) {
        for (const auto& l : map.locations) {
            if (((l.ipv4_destination && *l.ipv4_destination == *in.dst) ||
                 (l.ipv4_destination_backup && *l.ipv4_destination_backup == *in.dst)) &&
                l.ipv4_enabled) {
                m.location = &l;
                m.reason = "dst-ipv4:" + in.dst->to_string();
                return m;
            }
        }
    }
    if (in.src && in.src->v4) {
        for (std::size_t i = 0; i < map.networks.size(); ++i) {
            const auto& [range, idx] = map.networks[i];
            const Location& l = map.locations[idx];
            if (range.contains(*in.src) && l.ipv4_enabled) {
                m.location = &l;
                m.reason = MatchReason::fixed(map.network_reasons[i]);
                return m;
            }
        }
    }
    if (in.dst && !in.dst->v4) {
        for (const auto& l : map.locations) {
            if (l.ipv6 && *l.ipv6 == *in.dst && l.ipv6_enabled) {
                m.location = &l;
                m.reason = "dst-ipv6:" + in.dst->to_string();
                return m;
            }
        }
    }
    if (edns()) {
        return m;
    }
    m.reason = MatchReason::fixed("none: no location network, destination or EDNS 65011 matched");
    return m;
}

} // namespace resolver::attribution
