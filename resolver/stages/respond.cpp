// SPDX-License-Identifier: MIT
// Error answers and the last step: the response as bytes within the transport's limit.
#include <algorithm>

#include "resolver/stages/stage.hpp"

namespace resolver::stages {
namespace {

/// RFC 8914 §4.22/4.23: 22 No Reachable Authority for timeouts, 23 Network Error otherwise;
/// 0 Other for a query refused by a lab limit (the text names the limit).
std::uint16_t ede_for(const Error& e) {
    switch (e.code) {
    case Errc::UpstreamTimeout:
        return 22;
    case Errc::Overloaded:
        return 0;
    default:
        return 23;
    }
}

std::size_t response_limit(const QueryContext& ctx) {
    if (!net::row(ctx.transport.protocol).datagram) {
        return 65535;
    }
    // RFC 6891 §6.2.3/§6.2.5: the requestor's size, never below 512; 512 without EDNS.
    if (ctx.query && ctx.query->edns) {
        return std::max<std::size_t>(512, ctx.query->edns->udp_size);
    }
    return 512;
}

} // namespace

std::uint32_t freshness_lifetime(const wire::Message& r) {
    std::optional<std::uint32_t> least;
    auto take = [&](std::uint32_t v) { least = least ? std::min(*least, v) : v; };
    for (const auto& rr : r.answer) {
        take(rr.ttl);
    }
    if (!least) {
        for (const auto& rr : r.authority) {
            // SOA RDATA ends with five 32-bit numbers; MINIMUM is the last.
            if (rr.type == wire::rrtype::SOA && rr.rdata.size() >= 20) {
                const auto* p =
                    reinterpret_cast<const unsigned char*>(rr.rdata.data()) + rr.rdata.size() - 4;
                const std::uint32_t minimum = (std::uint32_t{p[0]} << 24) |
                                              (std::uint32_t{p[1]} << 16) |
                                              (std::uint32_t{p[2]} << 8) | p[3];
                take(std::min(rr.ttl, minimum));
            }
        }
    }
    return least.value_or(0);
}

PolicySnapshotPtr empty_policy() {
    auto empty = std::make_shared<PolicySnapshot>();
    empty->set = std::make_shared<const policy::PolicySet>();
    return empty;
}

void answer_error(QueryContext& ctx, std::uint16_t rc, const StageConfig& cfg) {
    wire::Message r = wire::make_response(*ctx.query, rc, cfg.udp_payload);
    r.set_flag(wire::kFlagRa, true);
    if (rc == wire::rcode::BadVers && r.edns) {
        r.edns->version = 0;
    }
    if (rc == wire::rcode::ServFail && ctx.upstream_error && ctx.query->edns) {
        std::string text = ctx.upstream_error->detail;
        if (text.size() > 200) {
            text.resize(200);
        }
        r.add_ede(ede_for(*ctx.upstream_error), text);
    }
    ctx.response = std::move(r);
}

void serialize_response(QueryContext& ctx, const StageConfig& cfg) {
    wire::Message& r = *ctx.response;
    if (r.edns) {
        r.edns->udp_size = cfg.udp_payload; // every answer advertises the same size
        if (ctx.client_subnet_echo) {
            std::erase_if(r.edns->options,
                          [](const wire::EdnsOption& o) { return o.code == wire::edns_opt::Ecs; });
            r.edns->options.push_back(*ctx.client_subnet_echo);
        }
    }
    // Into the memory the context holds (a sent answer's, given back by the listener).
    ctx.wire_out = wire::serialize(r, response_limit(ctx), std::move(ctx.wire_out));
    ctx.truncated = ctx.wire_out.size() > 3 && (ctx.wire_out[2] & 0x02) != 0;
    for (const auto& e : r.edes()) {
        ctx.ede_codes.push_back(e.code);
    }
    ctx.rcode = r.rcode();
    ctx.min_ttl = freshness_lifetime(r);
}

} // namespace resolver::stages
