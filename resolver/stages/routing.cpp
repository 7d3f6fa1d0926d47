// SPDX-License-Identifier: MIT
// Resolver-policy routing: which upstreams a route names (Internal DNS views, custom
// resolvers, private networks), the Internal DNS fallback, the facts each route logs, and
// the EDNS Client Subnet sent upstream. Decided here, synchronously; the driver only sends.
#include <algorithm>
#include <cctype>

#include "resolver/stages/stage.hpp"

namespace resolver::stages {
namespace {

std::int64_t elapsed_ms(const Environment& env, std::chrono::steady_clock::time_point since) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(env.clock->now() - since).count();
}

/// The ID of the longest configured Internal DNS zone that holds `qname` ("" = none).
std::string zone_id_for(const RouteTable& routes, const wire::Name& qname) {
    std::string name = qname.to_gateway_text(); // lower case, no trailing dot
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    for (;;) {
        if (auto it = routes.internal_zones.find(name); it != routes.internal_zones.end()) {
            return it->second;
        }
        const auto dot = name.find('.');
        if (dot == std::string::npos) {
            return {};
        }
        name.erase(0, dot + 1);
    }
}

/// The lab upstream for one custom resolver: itself over Do53 (UDP with a TCP retry on TC,
/// RFC 7766 §5) when it is public, the configured stand-in of its virtual network when it is
/// private; nullopt when the lab has no way to reach it.
std::optional<std::string> resolver_url(const RouteTable& routes,
                                        const policy::ResolverAddress& a) {
    if (!a.route_through_private_network) {
        return "udp://" + a.to_string();
    }
    if (a.vnet_id.empty()) {
        if (routes.default_vnet.empty()) {
            return std::nullopt;
        }
        return routes.default_vnet;
    }
    if (auto it = routes.vnets.find(a.vnet_id); it != routes.vnets.end()) {
        return it->second;
    }
    return std::nullopt;
}

/// Gateway's documented order: public resolvers, then private ones behind the default vnet,
/// then private ones behind a custom vnet (developers.cloudflare.com/cloudflare-one/
/// traffic-policies/resolver-policies/); the rule's order within each class.
int resolver_class(const policy::ResolverAddress& a) {
    if (!a.route_through_private_network) {
        return 0;
    }
    return a.vnet_id.empty() ? 1 : 2;
}

void route_custom(QueryContext& ctx, const policy::Route& r) {
    const RouteTable& routes = ctx.policy->routes;
    std::vector<const policy::ResolverAddress*> ordered;
    for (const auto& a : r.resolvers) {
        ordered.push_back(&a);
    }
    std::stable_sort(ordered.begin(), ordered.end(), [](const auto* a, const auto* b) {
        return resolver_class(*a) < resolver_class(*b);
    });
    std::string unreachable;
    for (const auto* a : ordered) {
        auto url = resolver_url(routes, *a);
        if (!url) {
            unreachable += (unreachable.empty() ? "" : ", ") + a->to_string() + " (vnet " +
                           (a->vnet_id.empty() ? std::string("default") : a->vnet_id) + ")";
            continue;
        }
        if (std::find(ctx.route_urls.begin(), ctx.route_urls.end(), *url) == ctx.route_urls.end()) {
            ctx.route_urls.push_back(*url);
            ctx.route_addresses.push_back(a->to_string());
        }
    }
    if (ctx.route_urls.empty()) {
        ctx.route_error = fail(Errc::UpstreamFailure,
                               "resolver policy " + (r.rule != nullptr ? r.rule->id : "?") +
                                   ": no lab upstream for private resolver " + unreachable +
                                   " (config [private_networks])");
    }
    ctx.route_prefer_fastest = ctx.policy->behaviour.custom_resolver_selection == "fastest";
}

} // namespace

void route(QueryContext& ctx) {
    if (!ctx.evaluation) {
        return;
    }
    const policy::Route& r = ctx.evaluation->route;
    ctx.route = r.key();
    switch (r.kind) {
    case policy::Route::Kind::Default:
    case policy::Route::Kind::Cloudflare: // the lab's default upstream stands in for 1.1.1.1
        break;
    case policy::Route::Kind::Internal: {
        ctx.internal_dns.emplace().view_id = r.view_id;
        const RouteTable& routes = ctx.policy->routes;
        if (auto it = routes.internal_views.find(r.view_id); it != routes.internal_views.end()) {
            ctx.route_urls.push_back(it->second);
        } else if (!ctx.policy->behaviour.internal_upstream.empty()) {
            ctx.route_urls.push_back(ctx.policy->behaviour.internal_upstream);
        }
        break;
    }
    case policy::Route::Kind::CustomResolvers: {
        std::string addrs;
        for (const auto& a : r.resolvers) {
            addrs += (addrs.empty() ? "" : ",") + a.to_string();
        }
        ctx.custom_resolver_address = addrs;
        route_custom(ctx, r);
        break;
    }
    }
    if (!ctx.route_urls.empty()) {
        // The upstream's identity: the route plus where it leads (a reload may remap it).
        ctx.route_key = ctx.route;
        for (const auto& u : ctx.route_urls) {
            ctx.route_key += "|" + u;
        }
    }
}

std::optional<wire::EdnsOption> client_subnet_option(const net::IpAddr& client, std::string* text,
                                                     int source_limit) {
    // RFC 7871 §6: FAMILY, SOURCE PREFIX-LENGTH, SCOPE PREFIX-LENGTH (0 in queries), then the
    // address cut to the prefix (whole bytes: ceil(prefix / 8)), host bits zero. Gateway sends
    // the /24 of an IPv4 client (developers.cloudflare.com/cloudflare-one/connections/
    // connect-networks/... location `ecs_support`); /56 for IPv6 is RFC 7871 §11.1's
    // recommended maximum.
    const int prefix = std::clamp(source_limit, 1, client.v4 ? 24 : 56);
    const std::size_t first = client.v4 ? 12 : 0;
    const std::size_t len = static_cast<std::size_t>((prefix + 7) / 8);
    wire::EdnsOption o;
    o.code = wire::edns_opt::Ecs;
    o.data.push_back('\0');
    o.data.push_back(static_cast<char>(client.v4 ? 1 : 2));
    o.data.push_back(static_cast<char>(prefix));
    o.data.push_back('\0');
    net::IpAddr network = client;
    for (std::size_t i = first + len; i < network.bytes.size(); ++i) {
        network.bytes[i] = 0;
    }
    if (prefix % 8 != 0) { // the last address byte keeps only its prefix bits
        network.bytes[first + len - 1] =
            static_cast<std::uint8_t>(network.bytes[first + len - 1] & (0xFF << (8 - prefix % 8)));
    }
    for (std::size_t i = 0; i < len; ++i) {
        o.data.push_back(static_cast<char>(network.bytes[first + i]));
    }
    if (text != nullptr) {
        *text = network.to_string() + "/" + std::to_string(prefix);
    }
    return o;
}

void choose_client_subnet(QueryContext& ctx) {
    const auto* loc = ctx.location.location;
    if (loc == nullptr || !loc->ecs_support || !ctx.src_ip || !ctx.query) {
        return;
    }
    int source_limit = 128;
    if (const auto* mine = ctx.query->edns ? ctx.query->edns->find(wire::edns_opt::Ecs) : nullptr;
        mine != nullptr && mine->data.size() >= 4) {
        const auto byte = [&](std::size_t i) { return static_cast<std::uint8_t>(mine->data[i]); };
        const int family = (byte(0) << 8) | byte(1);
        const int source = byte(2);
        // RFC 7871 §7.2.2: a client that sent ECS gets one back. The answer was chosen by
        // the client's source address, never by the ADDRESS it sent, so it is valid for any
        // ADDRESS: SCOPE PREFIX-LENGTH 0.
        wire::EdnsOption echo = *mine;
        echo.data[3] = '\0';
        ctx.client_subnet_echo = std::move(echo);
        // §7.1.2: SOURCE PREFIX-LENGTH 0 asks that none be sent upstream.
        if (source == 0) {
            return;
        }
        // §7.1.1: never more bits upstream than the client sent for its own family.
        if (family == (ctx.src_ip->v4 ? 1 : 2)) {
            source_limit = source;
        }
    }
    ctx.client_subnet = client_subnet_option(*ctx.src_ip, &ctx.client_subnet_text, source_limit);
}

bool internal_fallback_due(const QueryContext& ctx, const wire::Message* answer) {
    if (!ctx.evaluation || ctx.evaluation->route.kind != policy::Route::Kind::Internal ||
        ctx.evaluation->route.fallback != "public_dns" || !ctx.upstream_request ||
        ctx.upstream_request->internal_fallback) {
        return false;
    }
    if (answer == nullptr) {
        return true; // the view did not answer
    }
    // [SDK] resolve_dns_internally.fallback: when the internal RCODE is not NOERROR, or an
    // A/AAAA answer holds only CNAMEs (the view does not own the target).
    if ((answer->rcode() & 0xF) != wire::rcode::NoError) {
        return true;
    }
    const auto qtype = ctx.upstream_request->question.qtype;
    if ((qtype == wire::rrtype::A || qtype == wire::rrtype::AAAA) && !answer->answer.empty()) {
        return std::all_of(
            answer->answer.begin(), answer->answer.end(),
            [](const wire::ResourceRecord& rr) { return rr.type == wire::rrtype::CNAME; });
    }
    return false;
}

void note_exchange(QueryContext& ctx, const Environment& env, const wire::Message* answer) {
    const UpstreamRequest& req = *ctx.upstream_request;
    if (req.internal_fallback || !ctx.evaluation) {
        return; // the default upstream's answer: nothing Internal DNS or custom to log
    }
    const policy::Route& r = ctx.evaluation->route;
    if (r.kind == policy::Route::Kind::Internal && ctx.internal_dns) {
        auto& f = *ctx.internal_dns;
        f.duration_ms = elapsed_ms(env, req.sent_at);
        f.rcode = answer != nullptr ? (answer->rcode() & 0xF) : wire::rcode::ServFail;
        f.zone_id = answer != nullptr ? zone_id_for(ctx.policy->routes, req.question.qname) : "";
    } else if (r.kind == policy::Route::Kind::CustomResolvers) {
        auto& f = ctx.custom_resolve.emplace();
        f.duration_ms = elapsed_ms(env, req.sent_at);
        if (answer != nullptr) {
            f.response = wire::rcode_name(answer->rcode() & 0xF);
            // CustomResolverAddress: the one resolver that answered, when it is known.
            for (std::size_t i = 0; i < ctx.route_urls.size(); ++i) {
                const std::string& u = ctx.route_urls[i];
                if (u.size() > ctx.upstream_server.size() &&
                    u.compare(u.size() - ctx.upstream_server.size(), std::string::npos,
                              ctx.upstream_server) == 0 &&
                    u[u.size() - ctx.upstream_server.size() - 1] == '/') {
                    ctx.custom_resolver_address = ctx.route_addresses[i];
                }
            }
        } else {
            f.response = ctx.upstream_error && ctx.upstream_error->code == Errc::UpstreamTimeout
                             ? "timeout"
                             : "error";
        }
    }
}

} // namespace resolver::stages
