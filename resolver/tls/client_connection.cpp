// SPDX-License-Identifier: MIT
#include "resolver/tls/client_connection.hpp"

#include <cstring>

#include <openssl/err.h>

namespace resolver::tls {
namespace {
constexpr std::size_t kReadBufferSize = 64 * 1024;

std::string sockaddr_text(const sockaddr* sa) {
    char ip[INET6_ADDRSTRLEN] = {};
    if (sa->sa_family == AF_INET6) {
        const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
        uv_ip6_name(in6, ip, sizeof ip);
        return "[" + std::string(ip) + "]:" + std::to_string(ntohs(in6->sin6_port));
    }
    const auto* in4 = reinterpret_cast<const sockaddr_in*>(sa);
    uv_ip4_name(in4, ip, sizeof ip);
    return std::string(ip) + ":" + std::to_string(ntohs(in4->sin_port));
}

struct WriteReq {
    uv_write_t req{};
    ClientConnection* owner = nullptr;
    std::vector<char> data;
};
} // namespace

void ClientConnectionCloser::operator()(ClientConnection* c) const noexcept {
    c->release();
}

ClientConnection::ClientConnection(Params params, ClientConnectionHandler* handler)
    : params_(std::move(params)), handler_(handler), started_(std::chrono::steady_clock::now()),
      read_buf_(kReadBufferSize) {}

Result<ClientConnectionPtr> ClientConnection::start(Params params,
                                                    ClientConnectionHandler* handler) {
    ClientConnectionPtr conn(new ClientConnection(std::move(params), handler));
    ClientConnection& c = *conn;
    auto ssl = make_client_ssl(c.params_.ctx, c.params_.tls);
    if (!ssl) {
        return ssl.error();
    }
    c.ssl_ = std::move(ssl).value();
    c.rbio_ = BIO_new(BIO_s_mem());
    c.wbio_ = BIO_new(BIO_s_mem());
    if (c.rbio_ == nullptr || c.wbio_ == nullptr) {
        BIO_free(c.rbio_);
        BIO_free(c.wbio_);
        c.rbio_ = c.wbio_ = nullptr;
        return resolver::fail(Errc::Internal, "BIO_new: " + drain_openssl_errors());
    }
    SSL_set_bio(c.ssl_.get(), c.rbio_, c.wbio_); // ssl_ owns both from here

    auto timer = util::UvHandle<uv_timer_t>::create(
        [&](uv_timer_t* t) { return uv_timer_init(c.params_.loop, t); });
    if (!timer) {
        return timer.error();
    }
    c.connect_timer_ = std::move(timer).value();
    c.connect_timer_.get()->data = &c;
    uv_timer_start(c.connect_timer_.get(), &ClientConnection::on_timeout,
                   c.params_.connect_timeout_ms, 0);

    const std::string port = std::to_string(c.params_.port);
    if (util::is_ip_literal(c.params_.host)) {
        sockaddr_storage ss{};
        const int rc = util::is_ipv6_literal(c.params_.host)
                           ? uv_ip6_addr(c.params_.host.c_str(), c.params_.port,
                                         reinterpret_cast<sockaddr_in6*>(&ss))
                           : uv_ip4_addr(c.params_.host.c_str(), c.params_.port,
                                         reinterpret_cast<sockaddr_in*>(&ss));
        if (rc != 0) {
            return resolver::fail(Errc::ConfigInvalid,
                                  c.params_.label + ": bad address: " + uv_strerror(rc));
        }
        if (auto st = c.connect_to(reinterpret_cast<const sockaddr*>(&ss)); !st) {
            return st.error();
        }
        return conn;
    }
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    c.gai_.data = &c;
    if (int rc = uv_getaddrinfo(c.params_.loop, &c.gai_, &ClientConnection::on_resolved,
                                c.params_.host.c_str(), port.c_str(), &hints);
        rc != 0) {
        return resolver::fail(Errc::UpstreamFailure, c.params_.label + ": cannot resolve " +
                                                         c.params_.host + ": " + uv_strerror(rc));
    }
    c.gai_pending_ = true;
    return conn;
}

Status ClientConnection::connect_to(const sockaddr* addr) {
    peer_ = sockaddr_text(addr);
    if (int rc = uv_tcp_init(params_.loop, &tcp_); rc != 0) {
        return resolver::fail(Errc::Internal, params_.label + ": uv_tcp_init: " + uv_strerror(rc));
    }
    tcp_inited_ = true;
    tcp_.data = this;
    uv_tcp_nodelay(&tcp_, 1); // DNS messages are small and latency-bound
    connect_req_.data = this;
    if (int rc = uv_tcp_connect(&connect_req_, &tcp_, addr, &ClientConnection::on_connect);
        rc != 0) {
        return resolver::fail(Errc::UpstreamFailure,
                              params_.label + ": connect to " + peer_ + ": " + uv_strerror(rc));
    }
    return ok();
}

void ClientConnection::write(std::span<const std::uint8_t> plaintext) {
    if (closing_) {
        return;
    }
    if (!handshake_done_) {
        early_plaintext_.insert(early_plaintext_.end(), plaintext.begin(), plaintext.end());
        return;
    }
    // With a memory BIO SSL_write never wants I/O: it encrypts everything into wbio_.
    if (SSL_write(ssl_.get(), plaintext.data(), static_cast<int>(plaintext.size())) <= 0) {
        fail_with(Errc::UpstreamFailure, "TLS write failed: " + drain_openssl_errors());
        return;
    }
    flush();
}

std::string ClientConnection::alpn() const {
    const unsigned char* proto = nullptr;
    unsigned len = 0;
    SSL_get0_alpn_selected(ssl_.get(), &proto, &len);
    return proto == nullptr ? std::string()
                            : std::string(reinterpret_cast<const char*>(proto), len);
}

void ClientConnection::fail_with(Errc code, const std::string& why) {
    if (closing_) {
        return;
    }
    ClientConnectionHandler* handler = handler_;
    Error error{code, params_.label + ": " + why};
    stop_io();
    // Last statement: the handler may release us, which can delete `this` right away.
    handler->on_connection_error(std::move(error));
}

void ClientConnection::drive() {
    if (!handshake_done_) {
        const int rc = SSL_do_handshake(ssl_.get());
        if (rc != 1) {
            const int err = SSL_get_error(ssl_.get(), rc);
            flush(); // the ClientHello, or the alert that explains a failure to the server
            if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE && !closing_) {
                fail_with(Errc::UpstreamFailure, handshake_error_text(ssl_.get(), err));
            }
            return;
        }
        handshake_done_ = true;
        connect_timer_.close();
        connect_ms_ =
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started_)
                .count();
        if (auto st = check_peer(ssl_.get(), params_.tls); !st) {
            fail_with(Errc::UpstreamFailure, st.error().detail);
            return;
        }
        if (!early_plaintext_.empty()) {
            std::vector<std::uint8_t> early;
            early.swap(early_plaintext_);
            write(early);
            if (closing_) {
                return;
            }
        }
        flush();
        handler_->on_connected();
        if (closing_) {
            return;
        }
    }
    for (;;) {
        const int n = SSL_read(ssl_.get(), read_buf_.data(), static_cast<int>(read_buf_.size()));
        if (n > 0) {
            // Copy out: the handler may write, and SSL_read reuses read_buf_ on the next turn.
            std::vector<std::uint8_t> plain(read_buf_.begin(), read_buf_.begin() + n);
            handler_->on_plaintext(plain);
            if (closing_) {
                return;
            }
            continue;
        }
        const int err = SSL_get_error(ssl_.get(), n);
        if (err == SSL_ERROR_WANT_READ) {
            break;
        }
        flush();
        if (closing_) {
            return;
        }
        if (err == SSL_ERROR_ZERO_RETURN) { // close_notify
            fail_with(Errc::UpstreamFailure, "connection closed by peer");
        } else {
            const std::string why = drain_openssl_errors();
            fail_with(Errc::UpstreamFailure,
                      "TLS error: " + (why.empty() ? "SSL error " + std::to_string(err) : why));
        }
        return;
    }
    flush(); // TLS 1.3 may answer post-handshake messages
}

void ClientConnection::flush() {
    if (closing_ || !tcp_inited_) {
        return;
    }
    const auto pending = BIO_ctrl_pending(wbio_);
    if (pending == 0) {
        return;
    }
    auto req = std::make_unique<WriteReq>();
    req->data.resize(pending);
    const int n = BIO_read(wbio_, req->data.data(), static_cast<int>(pending));
    if (n <= 0) {
        return;
    }
    req->data.resize(static_cast<std::size_t>(n));
    req->owner = this;
    req->req.data = req.get();
    uv_buf_t buf = uv_buf_init(req->data.data(), static_cast<unsigned>(req->data.size()));
    if (int rc = uv_write(&req->req, reinterpret_cast<uv_stream_t*>(&tcp_), &buf, 1,
                          &ClientConnection::on_write);
        rc != 0) {
        fail_with(Errc::UpstreamFailure, std::string("write: ") + uv_strerror(rc));
        return;
    }
    (void)req.release(); // adopted again in on_write
}

void ClientConnection::release() noexcept {
    released_ = true;
    stop_io();
    maybe_destroy();
}

void ClientConnection::stop_io() noexcept {
    if (closing_) {
        return;
    }
    closing_ = true;
    connect_timer_.close();
    if (gai_pending_) {
        // The callback still runs (with UV_ECANCELED, or with a result if it was too late).
        uv_cancel(reinterpret_cast<uv_req_t*>(&gai_));
    }
    if (tcp_inited_ && uv_is_closing(reinterpret_cast<uv_handle_t*>(&tcp_)) == 0) {
        // Pending connect and write callbacks run (UV_ECANCELED) before on_tcp_closed.
        uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), &ClientConnection::on_tcp_closed);
    }
}

void ClientConnection::maybe_destroy() {
    if (released_ && closing_ && !gai_pending_ && (!tcp_inited_ || tcp_closed_)) {
        delete this;
    }
}

void ClientConnection::on_resolved(uv_getaddrinfo_t* req, int status, addrinfo* res) {
    auto* self = static_cast<ClientConnection*>(req->data);
    self->gai_pending_ = false;
    if (self->closing_) {
        uv_freeaddrinfo(res);
        self->maybe_destroy();
        return;
    }
    if (status < 0 || res == nullptr) {
        uv_freeaddrinfo(res);
        self->fail_with(Errc::UpstreamFailure,
                        "cannot resolve " + self->params_.host + ": " + uv_strerror(status));
        return;
    }
    auto st = self->connect_to(res->ai_addr);
    uv_freeaddrinfo(res);
    if (!st) {
        // connect_to's detail already carries the label; strip nothing, just pass it on.
        ClientConnectionHandler* handler = self->handler_;
        self->stop_io();
        handler->on_connection_error(st.error());
    }
}

void ClientConnection::on_connect(uv_connect_t* req, int status) {
    auto* self = static_cast<ClientConnection*>(req->data);
    if (status == UV_ECANCELED || self->closing_) {
        return; // closing; on_tcp_closed frees
    }
    if (status < 0) {
        self->fail_with(Errc::UpstreamFailure,
                        "connect to " + self->peer_ + ": " + uv_strerror(status));
        return;
    }
    if (int rc = uv_read_start(reinterpret_cast<uv_stream_t*>(&self->tcp_),
                               &ClientConnection::on_alloc, &ClientConnection::on_read);
        rc != 0) {
        self->fail_with(Errc::Internal, std::string("uv_read_start: ") + uv_strerror(rc));
        return;
    }
    self->drive(); // emits the ClientHello
}

void ClientConnection::on_alloc(uv_handle_t* handle, std::size_t /*suggested*/, uv_buf_t* buf) {
    auto* self = static_cast<ClientConnection*>(handle->data);
    *buf = uv_buf_init(self->read_buf_.data(), static_cast<unsigned>(self->read_buf_.size()));
}

void ClientConnection::on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
    auto* self = static_cast<ClientConnection*>(stream->data);
    if (self->closing_ || nread == 0) {
        return;
    }
    if (nread < 0) {
        if (nread == UV_EOF) {
            self->fail_with(Errc::UpstreamFailure,
                            self->handshake_done_
                                ? "connection closed by peer"
                                : "TLS handshake failed: connection closed by peer");
        } else {
            self->fail_with(Errc::UpstreamFailure,
                            std::string("read: ") + uv_strerror(static_cast<int>(nread)));
        }
        return;
    }
    if (BIO_write(self->rbio_, buf->base, static_cast<int>(nread)) != nread) {
        self->fail_with(Errc::Internal, "BIO_write: " + drain_openssl_errors());
        return;
    }
    self->drive();
}

void ClientConnection::on_write(uv_write_t* req, int status) {
    std::unique_ptr<WriteReq> owned(static_cast<WriteReq*>(req->data)); // from flush()
    // Still alive even when closing: libuv cancels writes before the close callback.
    ClientConnection* self = owned->owner;
    if (status < 0 && status != UV_ECANCELED && !self->closing_) {
        self->fail_with(Errc::UpstreamFailure, std::string("write: ") + uv_strerror(status));
    }
}

void ClientConnection::on_timeout(uv_timer_t* timer) {
    auto* self = static_cast<ClientConnection*>(timer->data);
    self->fail_with(Errc::UpstreamTimeout, "connect timeout after " +
                                               std::to_string(self->params_.connect_timeout_ms) +
                                               " ms");
}

void ClientConnection::on_tcp_closed(uv_handle_t* handle) {
    auto* self = static_cast<ClientConnection*>(handle->data);
    self->tcp_closed_ = true;
    self->maybe_destroy();
}

} // namespace resolver::tls
