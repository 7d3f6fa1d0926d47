// SPDX-License-Identifier: MIT
#include "resolver/tls/server_context.hpp"

#include <algorithm>

#include <openssl/err.h>

#include "resolver/tls/errors.hpp"
#include "resolver/tls/keylog.hpp"
#include "resolver/tls/lab_ca.hpp"

namespace resolver::tls {
namespace {

Error ssl_error(std::string what) {
    return fail(Errc::ConfigInvalid, with_openssl_errors(std::move(what)));
}

int on_alpn(SSL* ssl, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
            unsigned int inlen, void* /*arg*/) {
    const auto* prefs = static_cast<const std::string_view*>(SSL_get_app_data(ssl));
    if (prefs == nullptr) {
        return SSL_TLSEXT_ERR_NOACK;
    }
    // Server preference (RFC 7301 §3.2): first of ours that the client also offers.
    const auto* ours = reinterpret_cast<const unsigned char*>(prefs->data());
    for (std::size_t i = 0; i < prefs->size(); i += 1U + ours[i]) {
        for (unsigned int j = 0; j < inlen; j += 1U + in[j]) {
            if (ours[i] == in[j] && j + 1U + in[j] <= inlen &&
                std::char_traits<char>::compare(reinterpret_cast<const char*>(ours + i + 1),
                                                reinterpret_cast<const char*>(in + j + 1),
                                                ours[i]) == 0) {
                *out = in + j + 1;
                *outlen = in[j];
                return SSL_TLSEXT_ERR_OK;
            }
        }
    }
    return SSL_TLSEXT_ERR_NOACK;
}

// Any server name is fine: the name is a location hint read later with SSL_get_servername.
int on_servername(SSL* /*ssl*/, int* /*alert*/, void* /*arg*/) {
    return SSL_TLSEXT_ERR_OK;
}

int hello_callback_index() {
    static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    return index;
}

/// The host_name of the ClientHello's server_name extension (RFC 6066 §3), "" if none.
std::string client_hello_sni(SSL* ssl) {
    const unsigned char* p = nullptr;
    std::size_t len = 0;
    if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &p, &len) != 1 || len < 2) {
        return {};
    }
    std::size_t list = (std::size_t{p[0]} << 8) | p[1];
    std::size_t off = 2;
    list = std::min(list + 2, len);
    while (off + 3 <= list) {
        const unsigned type = p[off];
        const std::size_t n = (std::size_t{p[off + 1]} << 8) | p[off + 2];
        off += 3;
        if (off + n > list) {
            break;
        }
        if (type == TLSEXT_NAMETYPE_host_name) {
            return {reinterpret_cast<const char*>(p + off), n};
        }
        off += n;
    }
    return {};
}

int on_client_hello(SSL* ssl, int* alert, void* /*arg*/) {
    auto* cb = static_cast<ClientHelloCallback*>(SSL_get_ex_data(ssl, hello_callback_index()));
    if (cb == nullptr) {
        return SSL_CLIENT_HELLO_SUCCESS;
    }
    switch (cb->on_client_hello(client_hello_sni(ssl))) {
    case HelloVerdict::Continue:
        return SSL_CLIENT_HELLO_SUCCESS;
    case HelloVerdict::Alert:
        *alert = SSL_AD_HANDSHAKE_FAILURE; // what a server with nothing in common sends
        return SSL_CLIENT_HELLO_ERROR;
    case HelloVerdict::Pause:
        break;
    }
    return SSL_CLIENT_HELLO_RETRY; // paused; the connection decides
}

} // namespace

void set_client_hello_callback(SSL* ssl, ClientHelloCallback* cb) {
    SSL_set_ex_data(ssl, hello_callback_index(), cb);
}

void set_alpn_preference(SSL* ssl, const std::string_view* wire_list) {
    SSL_set_app_data(ssl, const_cast<std::string_view*>(wire_list));
}

Result<std::shared_ptr<const ServerContext>> ServerContext::create(const TlsServerConfig& config) {
    std::string cert = config.cert_file;
    std::string key = config.key_file;
    std::string ca;
    if (cert.empty() != key.empty()) {
        return fail(Errc::ConfigInvalid, "--tls-cert and --tls-key go together");
    }
    if (cert.empty()) {
        const std::string dir = config.state_dir.empty() ? default_state_dir() : config.state_dir;
        auto files = ensure_lab_ca(dir, config.gateway_domain);
        if (!files) {
            return files.error();
        }
        cert = files->leaf_cert;
        key = files->leaf_key;
        ca = files->ca_cert;
    }

    util::SslCtx ctx{SSL_CTX_new(TLS_server_method())};
    if (!ctx) {
        return ssl_error("SSL_CTX_new");
    }
    SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
    SSL_CTX_set_max_proto_version(ctx.get(), TLS1_3_VERSION);
    SSL_CTX_set_options(ctx.get(), SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    if (SSL_CTX_use_certificate_chain_file(ctx.get(), cert.c_str()) != 1) {
        return ssl_error("loading certificate " + cert);
    }
    if (SSL_CTX_use_PrivateKey_file(ctx.get(), key.c_str(), SSL_FILETYPE_PEM) != 1) {
        return ssl_error("loading key " + key);
    }
    if (SSL_CTX_check_private_key(ctx.get()) != 1) {
        return ssl_error("key does not match certificate " + cert);
    }
    SSL_CTX_set_alpn_select_cb(ctx.get(), &on_alpn, nullptr);
    SSL_CTX_set_tlsext_servername_callback(ctx.get(), &on_servername);
    SSL_CTX_set_client_hello_cb(ctx.get(), &on_client_hello, nullptr);
    enable_keylog(ctx.get());
    return std::shared_ptr<const ServerContext>(new ServerContext(std::move(ctx), std::move(ca)));
}

} // namespace resolver::tls
