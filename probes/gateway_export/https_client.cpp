// SPDX-License-Identifier: MIT
#include "probes/gateway_export/https_client.hpp"

#include "resolver/util/url.hpp"

namespace probes::gateway_export {
using resolver::Errc;
using resolver::fail;

namespace {
constexpr std::size_t kMaxHead = std::size_t{64} << 10;
} // namespace

HttpsClient::HttpsClient(HttpsClientOptions opts) : opts_(std::move(opts)) {}

resolver::Result<std::unique_ptr<HttpsClient>> HttpsClient::create(HttpsClientOptions opts) {
    std::unique_ptr<HttpsClient> c(new HttpsClient(std::move(opts)));
    if (auto st = c->init(); !st) {
        return st.error();
    }
    return c;
}

resolver::Status HttpsClient::init() {
    if (int rc = uv_loop_init(&loop_); rc != 0) {
        return fail(Errc::Internal, std::string("uv_loop_init: ") + uv_strerror(rc));
    }
    loop_inited_ = true;
    auto timer = resolver::util::UvHandle<uv_timer_t>::create(
        [&](uv_timer_t* t) { return uv_timer_init(&loop_, t); });
    if (!timer) {
        return timer.error();
    }
    timer_ = std::move(timer).value();
    timer_.get()->data = this;
    tls_.server_name = opts_.host;
    // RFC 6066 §3: no IP literals in the SNI; the certificate check still covers them.
    tls_.sni = resolver::util::is_ip_literal(opts_.host) ? "" : opts_.host;
    tls_.ca_file = opts_.ca_file;
    tls_.verify = true;
    tls_.alpn = {"http/1.1"};
    auto ctx = resolver::tls::make_client_ctx(tls_);
    if (!ctx) {
        return ctx.error();
    }
    ctx_ = std::move(ctx).value();
    return resolver::ok();
}

HttpsClient::~HttpsClient() {
    close_connection();
    timer_.close();
    if (loop_inited_) {
        uv_run(&loop_, UV_RUN_DEFAULT); // lets libuv finish closing every handle
        (void)uv_loop_close(&loop_);
    }
}

std::string HttpsClient::origin() const {
    const bool v6 = resolver::util::is_ipv6_literal(opts_.host);
    return "https://" + (v6 ? "[" + opts_.host + "]" : opts_.host) +
           (opts_.port == 443 ? "" : ":" + std::to_string(opts_.port));
}

resolver::Status HttpsClient::connect() {
    resolver::tls::ClientConnection::Params p;
    p.loop = &loop_;
    p.host = opts_.host;
    p.port = opts_.port;
    p.ctx = ctx_.get();
    p.tls = tls_;
    p.connect_timeout_ms = opts_.timeout_ms;
    p.label = origin();
    auto c = resolver::tls::ClientConnection::start(std::move(p), this);
    if (!c) {
        return c.error();
    }
    conn_ = std::move(c).value();
    conn_failed_ = false;
    ++connections_;
    return resolver::ok();
}

void HttpsClient::close_connection() {
    conn_.reset(); // closes; the object frees itself on a later loop turn
}

resolver::Result<HttpResponse> HttpsClient::get(const std::string& target,
                                                const HttpHeaders& headers) {
    // RFC 9112 §3.2: Host carries the port when it is not the scheme's default.
    std::string request = "GET " + target + " HTTP/1.1\r\nHost: " + origin().substr(8) + "\r\n";
    for (const auto& [name, value] : headers) {
        request += name + ": " + value + "\r\n";
    }
    request += "\r\n";
    for (int attempt = 0;; ++attempt) {
        if (conn_failed_) {
            close_connection(); // the server closed it after the last response
        }
        const bool reused = conn_ != nullptr;
        if (!conn_) {
            if (auto st = connect(); !st) {
                return st.error();
            }
        }
        bool retryable = false;
        auto r = exchange(request, retryable);
        if (r || !(retryable && reused && attempt == 0)) {
            return r;
        }
        // The kept-alive connection was closed by the server before it read the request.
    }
}

resolver::Result<HttpResponse> HttpsClient::exchange(const std::string& request, bool& retryable) {
    parser_.emplace(kMaxHead, opts_.max_body_bytes);
    failure_.reset();
    received_ = false;
    timed_out_ = false;
    conn_->write(std::span(reinterpret_cast<const std::uint8_t*>(request.data()), request.size()));
    uv_timer_start(timer_.get(), &HttpsClient::on_timeout, opts_.timeout_ms, 0);
    while (parser_->state() == Http1ResponseParser::State::NeedMore && !failure_ && !timed_out_) {
        uv_run(&loop_, UV_RUN_ONCE);
    }
    uv_timer_stop(timer_.get());
    const auto state = parser_->state();
    if (state == Http1ResponseParser::State::Done) {
        HttpResponse resp = parser_->take();
        if (!resp.keep_alive || parser_->leftover() != 0) {
            close_connection(); // bytes past the response: the stream cannot be trusted
        }
        parser_.reset();
        return resp;
    }
    close_connection();
    std::string why;
    Errc code = Errc::UpstreamFailure;
    if (state == Http1ResponseParser::State::Error) {
        why = origin() + ": malformed HTTP response: " + parser_->error();
    } else if (failure_) {
        retryable = !received_;
        why = failure_->detail;
        code = failure_->code;
    } else {
        why =
            origin() + ": no complete response within " + std::to_string(opts_.timeout_ms) + " ms";
        code = Errc::UpstreamTimeout;
    }
    parser_.reset();
    return fail(code, why);
}

void HttpsClient::on_connected() {}

void HttpsClient::on_plaintext(std::span<const std::uint8_t> bytes) {
    if (!parser_) {
        failure_ = resolver::Error{Errc::UpstreamFailure,
                                   origin() + ": bytes from the server without a request"};
        return;
    }
    received_ = true;
    parser_->feed(bytes);
}

void HttpsClient::on_connection_error(resolver::Error error) {
    conn_failed_ = true;
    // A response delimited by the end of the connection ends here (RFC 9112 §6.3).
    if (parser_ && received_ && parser_->finish_at_eof() == Http1ResponseParser::State::Done) {
        return;
    }
    failure_ = std::move(error);
}

void HttpsClient::on_timeout(uv_timer_t* timer) {
    static_cast<HttpsClient*>(timer->data)->timed_out_ = true;
}

} // namespace probes::gateway_export
