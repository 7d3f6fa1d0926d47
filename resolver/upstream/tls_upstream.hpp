// SPDX-License-Identifier: MIT
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <utility>

#include <uv.h>

#include "resolver/tls/client_connection.hpp"
#include "resolver/tls/client_ctx.hpp"
#include "resolver/upstream/upstream.hpp"
#include "resolver/util/c_handles.hpp"
#include "resolver/util/url.hpp"

namespace resolver::upstream {

/// What every upstream over TLS (DoT, DoH) is told by its URL: where it is, how TLS is set
/// up, and how long to wait.
struct TlsUpstreamOptions {
    std::string host;
    std::uint16_t port = 0;
    tls::ClientTlsConfig tls;
    unsigned timeout_ms = 2000;         // timeout=: one query
    unsigned connect_timeout_ms = 2000; // connect_timeout=: resolution + TCP + TLS
    unsigned idle_timeout_ms = 10000;   // idle_timeout=: an unused connection is closed
};

/// Reads host and port (`default_port` when the URL has none), the TLS parameters (sni=,
/// ca=, pin=, verify=) with ALPN `alpn`, and the three timeouts (`defaults` when absent).
/// ConfigInvalid names the bad part.
Status read_tls_upstream(const util::Url& url, const UpstreamOptions& defaults,
                         std::uint16_t default_port, const std::string& alpn,
                         TlsUpstreamOptions& out);

/// The connection a client of `o` opens: `ctx` must outlive it; `label` prefixes its errors.
tls::ClientConnection::Params connection_params(uv_loop_t* loop, SSL_CTX* ctx,
                                                const TlsUpstreamOptions& o, std::string label);

/// The timer that closes an unused connection, created on `loop` with `owner` as its data.
Status start_idle_timer(uv_loop_t* loop, void* owner, util::UvHandle<uv_timer_t>& timer);

/// Whether a client may send `query`: not after shutdown, and not less than a DNS header.
Status sendable(bool shut_down, std::span<const std::uint8_t> query, const std::string& label);

/// The client of parsed options `o`: its SSL_CTX made from o.tls, constructed as
/// Client(loop, url, options, ctx) and started with init().
template <typename Client, typename Options>
Result<UpstreamPtr> make_tls_client(uv_loop_t* loop, const util::Url& url, Result<Options> o) {
    if (!o) {
        return o.error();
    }
    auto ctx = tls::make_client_ctx(o->tls);
    if (!ctx) {
        return Error{ctx.error().code, url.to_string() + ": " + ctx.error().detail};
    }
    auto client = std::make_unique<Client>(loop, url.to_string(), std::move(o).value(),
                                           std::move(ctx).value());
    if (auto st = client->init(); !st) {
        return st.error();
    }
    return UpstreamPtr(std::move(client));
}

} // namespace resolver::upstream
