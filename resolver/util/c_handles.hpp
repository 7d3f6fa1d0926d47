// SPDX-License-Identifier: MIT
#pragma once
#include <memory>
#include <utility>

#include <ares.h>
#include "resolver/util/ldns.hpp"
#include <nghttp2/nghttp2.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <uv.h>

#include "resolver/core/result.hpp"

namespace resolver::util {

/// Deleter that calls a C library's free function; stateless, so CHandle is pointer-sized.
template <auto FreeFn>
struct CFree {
    template <typename T>
    void operator()(T* p) const noexcept {
        FreeFn(p);
    }
};

/// Sole owner of an object allocated by a C library.
template <typename T, auto FreeFn>
using CHandle = std::unique_ptr<T, CFree<FreeFn>>;

using LdnsPkt = CHandle<ldns_pkt, ldns_pkt_free>;
using LdnsRr = CHandle<ldns_rr, ldns_rr_free>;
using LdnsRdf = CHandle<ldns_rdf, ldns_rdf_deep_free>;
using LdnsZone = CHandle<ldns_zone, ldns_zone_deep_free>;
using LdnsBuffer = CHandle<ldns_buffer, ldns_buffer_free>;
using AresChannel = CHandle<ares_channeldata, ares_destroy>;
using SslCtx = CHandle<SSL_CTX, SSL_CTX_free>;
using Ssl = CHandle<SSL, SSL_free>;
using X509Ptr = CHandle<X509, X509_free>;
using EvpPkey = CHandle<EVP_PKEY, EVP_PKEY_free>;
using Http2Session = CHandle<nghttp2_session, nghttp2_session_del>;

/// Owns a libuv handle. libuv handles cannot be freed directly: they must be
/// uv_close()d and only freed from the close callback, one loop iteration later.
/// The handle lives on the heap so its address never changes while libuv holds it.
template <typename H>
class UvHandle {
public:
    UvHandle() = default;

    /// `init` is the uv_*_init call, e.g. [&](uv_udp_t* h) { return uv_udp_init(loop, h); }.
    template <typename InitFn>
    static Result<UvHandle> create(InitFn&& init) {
        auto raw = std::make_unique<H>();
        if (int rc = std::forward<InitFn>(init)(raw.get()); rc != 0) {
            // Never registered with the loop, so the plain delete by `raw` is correct here.
            return fail(Errc::Internal, uv_strerror(rc));
        }
        return UvHandle(raw.release());
    }

    UvHandle(UvHandle&& other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
    UvHandle& operator=(UvHandle&& other) noexcept {
        if (this != &other) {
            close();
            handle_ = std::exchange(other.handle_, nullptr);
        }
        return *this;
    }
    UvHandle(const UvHandle&) = delete;
    UvHandle& operator=(const UvHandle&) = delete;
    ~UvHandle() { close(); }

    [[nodiscard]] H* get() const noexcept { return handle_; }
    [[nodiscard]] explicit operator bool() const noexcept { return handle_ != nullptr; }

    /// Closes now (asynchronously freed). Safe to call twice.
    void close() noexcept {
        if (handle_ == nullptr) {
            return;
        }
        auto* h = reinterpret_cast<uv_handle_t*>(handle_);
        handle_ = nullptr;
        if (uv_is_closing(h) != 0) {
            return;
        }
        uv_close(h, [](uv_handle_t* closing) { delete reinterpret_cast<H*>(closing); });
    }

private:
    explicit UvHandle(H* handle) noexcept : handle_(handle) {}

    H* handle_ = nullptr;
};

} // namespace resolver::util
