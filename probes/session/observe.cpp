// SPDX-License-Identifier: MIT
#include "probes/session/observe.hpp"

#include "resolver/util/url.hpp"
#include "resolver/wire/message.hpp"

namespace probes::session {
namespace wire = resolver::wire;

compare::Observation observe(const common::Target& target, const Outcome& outcome) {
    compare::Observation o;
    if (outcome.exchange) {
        const auto& ex = *outcome.exchange;
        const bool json = target.transport == "https-json";
        if (common::kind_of(target.url) == resolver::net::Transport::Https) {
            o.doh = true;
            o.http_status = ex.http_status;
            o.content_type = ex.content_type;
            const auto ct = o.content_type.substr(0, o.content_type.find(';'));
            // RFC 8484 §6: application/dns-message; the JSON API uses application/dns-json.
            o.content_type_ok = json ? (ct == "application/dns-json" || ct == "application/json")
                                     : ct == "application/dns-message";
        }
        if (o.doh && ex.http_status != 200) {
            o.error = "HTTP " + std::to_string(ex.http_status);
        } else if (json) {
            auto j = compare::normalize_json(ex.body);
            j.doh = o.doh;
            j.http_status = o.http_status;
            j.content_type = o.content_type;
            j.content_type_ok = o.content_type_ok;
            o = std::move(j);
        } else {
            auto parsed = wire::parse(ex.wire);
            if (!parsed) {
                o.error = "malformed answer: " + parsed.failure.reason;
            } else {
                auto w = compare::normalize_wire(*parsed.message);
                w.doh = o.doh;
                w.http_status = o.http_status;
                w.content_type = o.content_type;
                w.content_type_ok = o.content_type_ok;
                w.wire = ex.wire;
                o = std::move(w);
            }
        }
    } else {
        o.error = outcome.error.empty() ? "no answer" : outcome.error;
    }
    o.target = target.name;
    o.transport = target.transport;
    return o;
}

namespace {
common::PacketEndpoint server_endpoint(const common::Target& t, const Outcome& o) {
    if (o.exchange && !o.exchange->server.empty()) {
        // "ip:port" or "[v6]:port" as the clients report it.
        auto s = o.exchange->server;
        if (auto r = s.rfind(':'); r != std::string::npos && s.find("://") == std::string::npos) {
            std::string host = s.substr(0, r);
            if (host.size() > 1 && host.front() == '[') {
                host = host.substr(1, host.size() - 2);
            }
            unsigned port = 0;
            try {
                port = static_cast<unsigned>(std::stoul(s.substr(r + 1)));
            } catch (...) { // NOLINT(bugprone-empty-catch): fall back to the URL below
                port = 0;
            }
            if (resolver::util::is_ip_literal(host) && port > 0 && port < 65536) {
                return {host, static_cast<std::uint16_t>(port)};
            }
        }
    }
    return {t.url.host, t.url.port_or(53)};
}
} // namespace

void record_pcap(common::PcapWriter* pcap, std::size_t target_index, const common::Target& target,
                 const std::vector<std::uint8_t>& query, const Outcome& outcome) {
    if (pcap == nullptr) {
        return;
    }
    const auto server = server_endpoint(target, outcome);
    const common::PacketEndpoint client{resolver::util::is_ipv6_literal(server.ip) ? "::1"
                                                                                   : "127.0.0.1",
                                        static_cast<std::uint16_t>(40000 + target_index % 20000)};
    pcap->write(outcome.sent_us, client, server, query);
    if (outcome.exchange && !outcome.exchange->wire.empty()) {
        pcap->write(outcome.answered_us, server, client, outcome.exchange->wire);
    }
}

} // namespace probes::session
