// SPDX-License-Identifier: MIT
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <openssl/ssl.h>

#include "resolver/core/result.hpp"
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

/// What a ClientHelloCallback tells the handshake.
enum class HelloVerdict : std::uint8_t {
    Continue, // carry on
    Alert,    // fail at once with a fatal handshake_failure alert (RFC 8446 §6.2)
    Pause,    // suspend the handshake: SSL_do_handshake() returns SSL_ERROR_WANT_CLIENT_HELLO_CB
              // and the connection decides what happens next (close, stay silent)
};

/// Called once per connection when its ClientHello has been read, before anything is sent
/// back (OpenSSL's client_hello_cb). `sni` is the server_name host_name, "" when none.
/// Generic: the lab's listener faults implement it through io::HandshakeGate.
class ClientHelloCallback {
public:
    virtual ~ClientHelloCallback() = default;
    virtual HelloVerdict on_client_hello(std::string_view sni) = 0;
};

/// Attaches `cb` to `ssl` (it must outlive the handshake); null detaches.
void set_client_hello_callback(SSL* ssl, ClientHelloCallback* cb);

} // namespace resolver::tls
