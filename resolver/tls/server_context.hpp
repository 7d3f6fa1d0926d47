// SPDX-License-Identifier: MIT
#pragma once
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <openssl/ssl.h>

#include "resolver/core/result.hpp"
#include "resolver/fault/plan.hpp"
#include "resolver/util/c_handles.hpp"

namespace resolver::tls {

/// How the server side gets its certificate.
struct TlsServerConfig {
    std::string cert_file; // PEM chain (leaf first); empty: use the lab CA
    std::string key_file;  // PEM private key; empty: use the lab CA
    std::string state_dir; // where the lab CA lives; empty: default_state_dir()
    std::string gateway_domain = "cloudflare-gateway.com"; // SANs of the lab leaf
};

/// ALPN protocol lists in RFC 7301 §3.1 wire form, in server preference order.
inline constexpr std::string_view kAlpnDot = "\x03"
                                             "dot"; // RFC 7858 / IANA "dot"
inline constexpr std::string_view kAlpnDoh = "\x02"
                                             "h2"
                                             "\x08"
                                             "http/1.1"; // RFC 8484 §5.2

/// The immutable server SSL_CTX shared by every DoT and DoH listener (and every worker loop:
/// SSL_new() on a shared SSL_CTX is thread-safe). TLS 1.2 and 1.3 only, keylog enabled when
/// SSLKEYLOGFILE is set, any SNI accepted (it is a location hint, not a virtual host).
class ServerContext {
public:
    /// Loads cert/key, or, when both are empty, creates or reuses the lab CA under state_dir.
    /// Startup only: errors are ConfigInvalid with OpenSSL's reason.
    static Result<std::shared_ptr<const ServerContext>> create(const TlsServerConfig& config);

    [[nodiscard]] SSL_CTX* ctx() const noexcept { return ctx_.get(); }
    /// The lab CA certificate clients should trust; "" when the user gave cert/key.
    [[nodiscard]] const std::string& ca_file() const noexcept { return ca_file_; }

private:
    ServerContext(util::SslCtx ctx, std::string ca_file)
        : ctx_(std::move(ctx)), ca_file_(std::move(ca_file)) {}

    util::SslCtx ctx_;
    std::string ca_file_;
};

/// Chooses the ALPN list the server offers on one connection. `wire_list` (e.g. kAlpnDot)
/// must outlive `ssl`; it is kept in the SSL's app data. Without it, ALPN is not acknowledged.
/// When the client offers ALPN but nothing in common, the handshake proceeds without ALPN
/// (RFC 7301 §3.2 allows a fatal alert; real DoT clients often send none, so we stay lenient).
void set_alpn_preference(SSL* ssl, const std::string_view* wire_list);

/// Per-connection hook consulted by the server context's ClientHello callback, so a lab
/// listener can fail chosen handshakes (fault::HandshakeFault). `decide` gets the SNI ("" when
/// none). Alert: the handshake fails at once with a fatal handshake_failure alert.
/// Close and Stall: the handshake pauses (SSL_ERROR_WANT_CLIENT_HELLO_CB) and the connection
/// reads `decided` to close or go silent.
struct HelloHook {
    std::function<std::optional<fault::HandshakeFault>(std::string_view sni)> decide;
    std::optional<fault::HandshakeFault> decided;
};

/// Attaches `hook` (which must outlive the handshake of `ssl`); null detaches.
void set_hello_hook(SSL* ssl, HelloHook* hook);

} // namespace resolver::tls
