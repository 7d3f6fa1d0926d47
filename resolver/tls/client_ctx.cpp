// SPDX-License-Identifier: MIT
#include "resolver/tls/client_ctx.hpp"

#include <charconv>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include "resolver/tls/keylog.hpp"
#include "resolver/tls/trust_store.hpp"

namespace resolver::tls {
namespace {
std::vector<std::string> split_list(const std::string& text) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (start <= text.size()) {
        auto comma = text.find(',', start);
        if (comma == std::string::npos) {
            comma = text.size();
        }
        if (comma > start) {
            out.push_back(text.substr(start, comma - start));
        }
        start = comma + 1;
    }
    return out;
}

std::string base64(const unsigned char* data, std::size_t len) {
    std::string out(4 * ((len + 2) / 3), '\0');
    const int n =
        EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(len));
    out.resize(n < 0 ? 0 : static_cast<std::size_t>(n));
    return out;
}
} // namespace

Result<unsigned> ms_param(const util::Url& url, const std::string& key, unsigned fallback) {
    auto it = url.params.find(key);
    if (it == url.params.end()) {
        return fallback;
    }
    unsigned v = 0;
    const auto& text = it->second;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (text.empty() || ec != std::errc{} || end != text.data() + text.size() || v == 0) {
        return fail(Errc::ConfigInvalid,
                    url.to_string() + ": " + key + "= must be a positive number of milliseconds");
    }
    return v;
}

Result<ClientTlsConfig> client_config_from_url(const util::Url& url,
                                               std::vector<std::string> alpn) {
    ClientTlsConfig cfg;
    cfg.server_name = url.param("sni", url.host);
    if (cfg.server_name.empty()) {
        return fail(Errc::ConfigInvalid, url.to_string() + ": empty sni=");
    }
    // RFC 6066 §3: "Literal IPv4 and IPv6 addresses are not permitted in HostName".
    cfg.sni = util::is_ip_literal(cfg.server_name) ? "" : cfg.server_name;
    cfg.ca_file = url.param("ca");
    cfg.pins = split_list(url.param("pin"));
    for (const auto& pin : cfg.pins) {
        if (pin.size() != 44 || pin.back() != '=') { // base64 of 32 bytes
            return fail(Errc::ConfigInvalid, url.to_string() + ": pin '" + pin +
                                                 "' is not a base64 SHA-256 (44 characters)");
        }
    }
    const std::string verify = url.param("verify", "1");
    if (verify == "0" || verify == "false" || verify == "no") {
        cfg.verify = false;
    } else if (verify != "1" && verify != "true" && verify != "yes") {
        return fail(Errc::ConfigInvalid, url.to_string() + ": verify= must be 0 or 1");
    }
    cfg.alpn = std::move(alpn);
    return cfg;
}

Result<util::SslCtx> make_client_ctx(const ClientTlsConfig& cfg) {
    util::SslCtx ctx(SSL_CTX_new(TLS_client_method()));
    if (!ctx) {
        return fail(Errc::Internal, "SSL_CTX_new: " + drain_openssl_errors());
    }
    // RFC 8310 §9 / RFC 8484 §5: nothing older than TLS 1.2.
    SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
    if (cfg.verify) {
        SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
        if (cfg.ca_file.empty()) {
            // Found like curl finds it, also where this OpenSSL's built-in path does not exist.
            if (auto st = load_system_trust(SSL_CTX_get_cert_store(ctx.get())); !st) {
                return fail(Errc::ConfigInvalid, "system CA store: " + st.error().detail);
            }
        } else if (SSL_CTX_load_verify_locations(ctx.get(), cfg.ca_file.c_str(), nullptr) != 1) {
            return fail(Errc::ConfigInvalid, "ca=" + cfg.ca_file + ": " + drain_openssl_errors());
        }
    } else {
        SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
    }
    if (!cfg.alpn.empty()) {
        std::string wire; // RFC 7301 §3.1: length-prefixed protocol names
        for (const auto& p : cfg.alpn) {
            wire.push_back(static_cast<char>(p.size()));
            wire += p;
        }
        // Unlike most of OpenSSL, 0 means success here.
        if (SSL_CTX_set_alpn_protos(ctx.get(), reinterpret_cast<const unsigned char*>(wire.data()),
                                    static_cast<unsigned>(wire.size())) != 0) {
            return fail(Errc::Internal, "SSL_CTX_set_alpn_protos: " + drain_openssl_errors());
        }
    }
    enable_keylog(ctx.get());
    return ctx;
}

Result<util::Ssl> make_client_ssl(SSL_CTX* ctx, const ClientTlsConfig& cfg) {
    util::Ssl ssl(SSL_new(ctx));
    if (!ssl) {
        return fail(Errc::Internal, "SSL_new: " + drain_openssl_errors());
    }
    SSL_set_connect_state(ssl.get());
    if (!cfg.sni.empty() && SSL_set_tlsext_host_name(ssl.get(), cfg.sni.c_str()) != 1) {
        return fail(Errc::ConfigInvalid, "sni '" + cfg.sni + "': " + drain_openssl_errors());
    }
    if (cfg.verify) {
        if (util::is_ip_literal(cfg.server_name)) {
            // SSL_set1_host would compare an IP literal against DNS SANs; IP SANs need this.
            X509_VERIFY_PARAM* param = SSL_get0_param(ssl.get());
            if (X509_VERIFY_PARAM_set1_ip_asc(param, cfg.server_name.c_str()) != 1) {
                return fail(Errc::ConfigInvalid, "bad IP '" + cfg.server_name + "'");
            }
        } else if (SSL_set1_host(ssl.get(), cfg.server_name.c_str()) != 1) {
            return fail(Errc::ConfigInvalid, "bad host name '" + cfg.server_name + "'");
        }
    }
    return ssl;
}

std::string spki_pin(X509* cert) {
    X509_PUBKEY* key = X509_get_X509_PUBKEY(cert);
    unsigned char* der = nullptr;
    const int len = i2d_X509_PUBKEY(key, &der);
    if (len <= 0) {
        return "";
    }
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256(der, static_cast<std::size_t>(len), digest);
    OPENSSL_free(der);
    return base64(digest, sizeof digest);
}

Status check_peer(SSL* ssl, const ClientTlsConfig& cfg) {
    if (cfg.pins.empty()) {
        return ok();
    }
    X509* cert = SSL_get0_peer_certificate(ssl); // not owned
    if (cert == nullptr) {
        return fail(Errc::UpstreamFailure, "SPKI pin check failed: no server certificate");
    }
    const std::string have = spki_pin(cert);
    for (const auto& pin : cfg.pins) {
        if (pin == have) {
            return ok();
        }
    }
    return fail(Errc::UpstreamFailure, "SPKI pin mismatch: server key is " + have);
}

std::string handshake_error_text(SSL* ssl, int ssl_error) {
    const long verify = SSL_get_verify_result(ssl);
    if (verify != X509_V_OK) {
        drain_openssl_errors(); // the queue only repeats "certificate verify failed"
        return std::string("certificate verify failed: ") + X509_verify_cert_error_string(verify);
    }
    std::string queued = drain_openssl_errors();
    if (!queued.empty()) {
        return "TLS handshake failed: " + queued;
    }
    if (ssl_error == SSL_ERROR_SYSCALL || ssl_error == SSL_ERROR_ZERO_RETURN) {
        return "TLS handshake failed: connection closed by peer";
    }
    return "TLS handshake failed (SSL error " + std::to_string(ssl_error) + ")";
}

} // namespace resolver::tls
