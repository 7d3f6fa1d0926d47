// SPDX-License-Identifier: MIT
#include "resolver/upstream/tls_upstream.hpp"

namespace resolver::upstream {

Status read_tls_upstream(const util::Url& url, const UpstreamOptions& defaults,
                         std::uint16_t default_port, const std::string& alpn,
                         TlsUpstreamOptions& out) {
    out.host = url.host;
    out.port = url.port_or(default_port);
    auto cfg = tls::client_config_from_url(url, {alpn});
    if (!cfg) {
        return cfg.error();
    }
    out.tls = std::move(cfg).value();
    auto timeout = tls::ms_param(url, "timeout", defaults.timeout_ms);
    auto connect = tls::ms_param(url, "connect_timeout", defaults.connect_timeout_ms);
    auto idle = tls::ms_param(url, "idle_timeout", defaults.idle_timeout_ms);
    for (const auto* r : {&timeout, &connect, &idle}) {
        if (!*r) {
            return r->error();
        }
    }
    out.timeout_ms = *timeout;
    out.connect_timeout_ms = *connect;
    out.idle_timeout_ms = *idle;
    return ok();
}

tls::ClientConnection::Params connection_params(uv_loop_t* loop, SSL_CTX* ctx,
                                                const TlsUpstreamOptions& o, std::string label) {
    tls::ClientConnection::Params p;
    p.loop = loop;
    p.host = o.host;
    p.port = o.port;
    p.ctx = ctx;
    p.tls = o.tls;
    p.connect_timeout_ms = o.connect_timeout_ms;
    p.label = std::move(label);
    return p;
}

Status start_idle_timer(uv_loop_t* loop, void* owner, util::UvHandle<uv_timer_t>& timer) {
    auto t =
        util::UvHandle<uv_timer_t>::create([&](uv_timer_t* h) { return uv_timer_init(loop, h); });
    if (!t) {
        return t.error();
    }
    timer = std::move(t).value();
    timer.get()->data = owner;
    return ok();
}

Status sendable(bool shut_down, std::span<const std::uint8_t> query, const std::string& label) {
    if (shut_down) {
        return fail(Errc::UpstreamFailure, label + ": upstream shut down");
    }
    if (query.size() < 12) { // RFC 1035 §4.1.1
        return fail(Errc::MalformedQuery, label + ": query shorter than a DNS header");
    }
    return ok();
}

} // namespace resolver::upstream
