// SPDX-License-Identifier: MIT
#pragma once
#include "resolver/tls/errors.hpp"
#include <string>
#include <vector>

#include <openssl/ssl.h>

#include "resolver/core/result.hpp"
#include "resolver/util/c_handles.hpp"
#include "resolver/util/url.hpp"

namespace resolver::tls {

/// TLS settings of one upstream (DoT or DoH), read from its URL query:
///   sni=NAME     name sent as SNI and checked against the certificate (default: the URL host)
///   ca=FILE      PEM bundle to trust instead of the system store
///   pin=B64[,B64] SPKI sha256 pins, base64, as `kdig +tls-pin` (any one must match)
///   verify=0     no certificate verification at all (lab use only: anyone can impersonate
///                the upstream; pins are still checked)
struct ClientTlsConfig {
    std::string server_name; // verified name: DNS name or IP literal
    std::string sni;         // sent in the ClientHello; "" when server_name is an IP (RFC 6066 §3)
    std::string ca_file;     // "" -> system store (honours SSL_CERT_FILE / SSL_CERT_DIR)
    std::vector<std::string> pins; // base64 SPKI sha256
    bool verify = true;
    std::vector<std::string> alpn; // offered protocols, most preferred first
};

/// Reads the TLS options above from `url`; `alpn` is what the caller's protocol needs
/// (`dot`, `h2`, `http/1.1`). Errors (ConfigInvalid) name the bad parameter.
Result<ClientTlsConfig> client_config_from_url(const util::Url& url, std::vector<std::string> alpn);

/// A client SSL_CTX: TLS 1.2 or later, peer verification unless `verify` is off (against
/// `ca_file` or the system store), the ALPN list, and SSLKEYLOGFILE support. One per upstream,
/// shared by all its connections. Errors carry the OpenSSL reason (e.g. an unreadable CA file).
Result<util::SslCtx> make_client_ctx(const ClientTlsConfig& cfg);

/// An SSL for one connection on `ctx`, in client mode, with SNI and the host-name or IP-address
/// check of `cfg.server_name` armed (RFC 6125; IP literals through the IP SAN check).
Result<util::Ssl> make_client_ssl(SSL_CTX* ctx, const ClientTlsConfig& cfg);

/// base64(sha256(DER SubjectPublicKeyInfo)) of `cert`, the RFC 7858 §4.2 / kdig pin format.
std::string spki_pin(X509* cert);

/// Checks done after a successful handshake: the SPKI pin when configured.
/// The error detail is human text such as "SPKI pin mismatch: server has abc=".
Status check_peer(SSL* ssl, const ClientTlsConfig& cfg);

/// Why a handshake failed, for Error::detail: "certificate verify failed: <X509 reason>" when
/// verification rejected the peer, else the drained OpenSSL error queue, else a generic text.
/// Drains the thread's OpenSSL error queue.
std::string handshake_error_text(SSL* ssl, int ssl_error);

/// A duration URL parameter in milliseconds (`timeout=1500`): `fallback` when absent,
/// ConfigInvalid when not a positive integer.
Result<unsigned> ms_param(const util::Url& url, const std::string& key, unsigned fallback);

} // namespace resolver::tls
