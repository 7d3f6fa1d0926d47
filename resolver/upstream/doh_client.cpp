// SPDX-License-Identifier: MIT
#include "resolver/upstream/doh_client.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <map>
#include <memory>

#include <nghttp2/nghttp2.h>

#include "resolver/tls/client_connection.hpp"
#include "resolver/util/c_handles.hpp"
#include "resolver/wire/message.hpp"

namespace resolver::upstream {
namespace {
using Clock = std::chrono::steady_clock;
constexpr std::size_t kMaxBody = 65535 + 1;   // a DNS message cannot be longer (JSON: same cap)
constexpr std::size_t kMaxH1Head = 16 * 1024; // status line + headers
constexpr const char* kDnsMessage = "application/dns-message";
constexpr const char* kDnsJson = "application/dns-json";

double ms_since(Clock::time_point t) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

std::string percent_encode(std::string_view s) {
    static const char* digits = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : s) {
        if (std::isalnum(c) != 0 || c == '-' || c == '.' || c == '_' || c == '~') {
            out.push_back(static_cast<char>(c));
        } else {
            out += '%';
            out += digits[c >> 4];
            out += digits[c & 0xF];
        }
    }
    return out;
}

/// The media type without parameters, lower-cased: "Application/DNS-Message; x=y" ->
/// "application/dns-message".
std::string media_type(const std::string& content_type) {
    std::string t = lower(content_type.substr(0, content_type.find(';')));
    while (!t.empty() && t.back() == ' ') {
        t.pop_back();
    }
    return t;
}

class DohClient final : public Upstream, private tls::ClientConnectionHandler {
public:
    DohClient(uv_loop_t* loop, std::string url, DohOptions opts, util::SslCtx ctx)
        : loop_(loop), url_(std::move(url)), opts_(std::move(opts)), ctx_(std::move(ctx)),
          label_("https://" + opts_.authority + opts_.path) {}

    ~DohClient() override { shutdown(); }

    Status init() { return start_idle_timer(loop_, this, idle_timer_); }

    void send(std::vector<std::uint8_t> query, Completion done) override;
    [[nodiscard]] const std::string& url() const override { return url_; }
    void shutdown() override;

private:
    enum class State : std::uint8_t { Queued, InFlight };

    struct Request {
        DohClient* owner = nullptr;
        std::uint64_t serial = 0;
        std::uint16_t caller_id = 0;
        Completion done;
        std::string path; // with the query string
        std::string body; // POST only
        std::size_t body_sent = 0;
        util::UvHandle<uv_timer_t> timer;
        Clock::time_point sent_at;
        State state = State::Queued;
        std::int32_t stream_id = -1;
        bool reused = false;
        bool retried = false;
        int status = 0;
        std::string content_type;
        std::string response;
    };

    // tls::ClientConnectionHandler
    void on_connected() override;
    void on_plaintext(std::span<const std::uint8_t> bytes) override;
    void on_connection_error(Error error) override;

    void dispatch();
    Status ensure_connection();
    void drop_connection();
    void submit_h2(Request& r);
    void pump_h2();
    void start_h1();
    void read_h1();
    void answered(Request& r);
    void finish(std::uint64_t serial, Result<Exchange> result);
    void run_deferred();
    void fail_all(const Error& error);
    void arm_idle();
    [[nodiscard]] bool in_flight() const;

    static void on_request_timeout(uv_timer_t* timer);
    static void on_idle(uv_timer_t* timer);
    static int on_h2_header(nghttp2_session* s, const nghttp2_frame* frame,
                            const std::uint8_t* name, std::size_t namelen,
                            const std::uint8_t* value, std::size_t valuelen, std::uint8_t flags,
                            void* user);
    static int on_h2_data(nghttp2_session* s, std::uint8_t flags, std::int32_t stream_id,
                          const std::uint8_t* data, std::size_t len, void* user);
    static int on_h2_stream_close(nghttp2_session* s, std::int32_t stream_id,
                                  std::uint32_t error_code, void* user);
    static int on_h2_frame(nghttp2_session* s, const nghttp2_frame* frame, void* user);
    static ssize_t on_h2_read_body(nghttp2_session* s, std::int32_t stream_id, std::uint8_t* buf,
                                   std::size_t length, std::uint32_t* flags,
                                   nghttp2_data_source* source, void* user);

    uv_loop_t* loop_;
    std::string url_;
    DohOptions opts_;
    util::SslCtx ctx_;
    std::string label_; // "https://authority/path", the prefix of every error detail
    bool shut_down_ = false;
    std::uint64_t next_serial_ = 1;
    // Declared before the session and the connection, whose callbacks reach them.
    std::map<std::uint64_t, std::unique_ptr<Request>> requests_; // arrival order
    // Work found inside nghttp2 callbacks, done after nghttp2 returned (no re-entry).
    std::vector<std::pair<std::uint64_t, Result<Exchange>>> deferred_;
    std::vector<std::uint64_t> retry_;
    std::uint64_t conn_gen_ = 0; // bumped whenever the connection goes; stale work checks it
    bool conn_up_ = false;
    bool goaway_ = false;
    std::int32_t goaway_last_stream_ = 0; // of the GOAWAY received on this connection
    std::uint32_t goaway_code_ = 0;
    double conn_connect_ms_ = 0;
    std::string conn_peer_;
    // HTTP/1.1 state: the request on the wire and the bytes of its response so far.
    std::uint64_t h1_current_ = 0;
    std::string h1_buf_;
    util::UvHandle<uv_timer_t> idle_timer_;
    util::Http2Session session_; // before conn_: its callbacks may write to the connection
    tls::ClientConnectionPtr conn_;
};

void DohClient::send(std::vector<std::uint8_t> query, Completion done) {
    if (auto st = sendable(shut_down_, query, label_); !st) {
        done(st.error());
        return;
    }
    auto r = std::make_unique<Request>();
    r->owner = this;
    r->serial = next_serial_++;
    r->caller_id = static_cast<std::uint16_t>((query[0] << 8) | query[1]);
    switch (opts_.method) {
    case DohOptions::Method::Json: {
        auto qs = json_query_string(query);
        if (!qs) {
            done(Error{qs.error().code, label_ + ": " + qs.error().detail});
            return;
        }
        r->path = opts_.path + "?" + *qs;
        break;
    }
    case DohOptions::Method::Get:
    case DohOptions::Method::Post:
        // RFC 8484 §4.1: "DoH clients SHOULD use a DNS ID of 0 in every DNS request"
        // (cache-friendly).
        query[0] = 0;
        query[1] = 0;
        if (opts_.method == DohOptions::Method::Get) {
            r->path = opts_.path + "?dns=" + base64url_encode(query);
        } else {
            r->path = opts_.path;
            r->body.assign(query.begin(), query.end());
        }
        break;
    }
    r->done = std::move(done);
    auto timer =
        util::UvHandle<uv_timer_t>::create([&](uv_timer_t* t) { return uv_timer_init(loop_, t); });
    if (!timer) {
        r->done(Error{Errc::Internal, label_ + ": " + timer.error().detail});
        return;
    }
    r->timer = std::move(timer).value();
    r->timer.get()->data = r.get();
    uv_timer_start(r->timer.get(), &DohClient::on_request_timeout, opts_.timeout_ms, 0);
    uv_timer_stop(idle_timer_.get());
    r->reused = conn_ && conn_up_ && !goaway_;
    requests_.emplace(r->serial, std::move(r));
    dispatch();
}

bool DohClient::in_flight() const {
    return std::any_of(requests_.begin(), requests_.end(),
                       [](const auto& kv) { return kv.second->state == State::InFlight; });
}

void DohClient::dispatch() {
    if (shut_down_) {
        return;
    }
    const bool queued = std::any_of(requests_.begin(), requests_.end(), [](const auto& kv) {
        return kv.second->state == State::Queued;
    });
    if (!queued) {
        return;
    }
    if (conn_ && goaway_) {
        if (in_flight()) {
            return; // the old connection finishes its streams first; dispatched again then
        }
        drop_connection();
    }
    if (!conn_) {
        if (auto st = ensure_connection(); !st) {
            fail_all(st.error());
            return;
        }
    }
    if (!conn_up_) {
        return; // on_connected dispatches
    }
    if (opts_.http == DohOptions::Http::H2) {
        const auto gen = conn_gen_;
        for (auto& [serial, r] : requests_) {
            if (r->state == State::Queued) {
                submit_h2(*r);
            }
        }
        if (gen == conn_gen_) {
            pump_h2();
        }
    } else if (h1_current_ == 0) {
        start_h1();
    }
}

Status DohClient::ensure_connection() {
    auto conn =
        tls::ClientConnection::start(connection_params(loop_, ctx_.get(), opts_, label_), this);
    if (!conn) {
        return conn.error();
    }
    conn_ = std::move(conn).value();
    conn_up_ = false;
    goaway_ = false;
    h1_current_ = 0;
    h1_buf_.clear();
    for (auto& [serial, r] : requests_) {
        r->reused = false; // all waiting requests wait for this new connection
    }
    return ok();
}

void DohClient::drop_connection() {
    ++conn_gen_;
    session_.reset(); // no callbacks from nghttp2_session_del
    conn_.reset();
    conn_up_ = false;
    goaway_ = false;
    h1_current_ = 0;
    h1_buf_.clear();
    uv_timer_stop(idle_timer_.get());
}

void DohClient::on_connected() {
    conn_up_ = true;
    conn_connect_ms_ = conn_->connect_ms();
    conn_peer_ = conn_->peer();
    if (opts_.http == DohOptions::Http::H2) {
        nghttp2_session_callbacks* cbs = nullptr;
        if (nghttp2_session_callbacks_new(&cbs) != 0) {
            on_connection_error(Error{Errc::Internal, label_ + ": out of memory"});
            return;
        }
        nghttp2_session_callbacks_set_on_header_callback(cbs, &DohClient::on_h2_header);
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, &DohClient::on_h2_data);
        nghttp2_session_callbacks_set_on_stream_close_callback(cbs, &DohClient::on_h2_stream_close);
        nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, &DohClient::on_h2_frame);
        nghttp2_session* raw = nullptr;
        const int rc = nghttp2_session_client_new(&raw, cbs, this);
        nghttp2_session_callbacks_del(cbs);
        if (rc != 0) {
            on_connection_error(
                Error{Errc::Internal, label_ + ": nghttp2: " + nghttp2_strerror(rc)});
            return;
        }
        session_.reset(raw);
        // RFC 9113 §6.5.2: no server push; DNS answers are small, 100 streams are plenty.
        const nghttp2_settings_entry settings[] = {{NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
                                                   {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 100}};
        nghttp2_submit_settings(session_.get(), NGHTTP2_FLAG_NONE, settings, 2);
    }
    dispatch();
    if (opts_.http == DohOptions::Http::H2 && session_) {
        pump_h2(); // the connection preface and SETTINGS even when nothing was queued
    }
}

void DohClient::submit_h2(Request& r) {
    // nghttp2 copies names and values (no NGHTTP2_NV_FLAG_NO_COPY_*), so views are enough.
    const auto nv = [](std::string_view name, std::string_view value) {
        return nghttp2_nv{reinterpret_cast<std::uint8_t*>(const_cast<char*>(name.data())),
                          reinterpret_cast<std::uint8_t*>(const_cast<char*>(value.data())),
                          name.size(), value.size(), NGHTTP2_NV_FLAG_NONE};
    };
    const std::string length = std::to_string(r.body.size());
    const bool post = opts_.method == DohOptions::Method::Post;
    std::vector<nghttp2_nv> nva = {
        nv(":method", post ? "POST" : "GET"),
        nv(":scheme", "https"),
        nv(":authority", opts_.authority),
        nv(":path", r.path),
        nv("accept", opts_.method == DohOptions::Method::Json ? kDnsJson : kDnsMessage),
        nv("user-agent", "dnslab")};
    if (post) {
        nva.push_back(nv("content-type", kDnsMessage));
        nva.push_back(nv("content-length", length));
    }
    for (const auto& [name, value] : opts_.headers) {
        nva.push_back(nv(name, value));
    }
    nghttp2_data_provider body{};
    body.read_callback = &DohClient::on_h2_read_body;
    r.body_sent = 0;
    const std::int32_t id = nghttp2_submit_request(session_.get(), nullptr, nva.data(), nva.size(),
                                                   post ? &body : nullptr, &r);
    if (id < 0) {
        deferred_.emplace_back(
            r.serial, Error{Errc::Internal, label_ + ": nghttp2: " + nghttp2_strerror(id)});
        r.state = State::InFlight; // finished by run_deferred below
        return;
    }
    r.stream_id = id;
    r.state = State::InFlight;
    r.sent_at = Clock::now();
    r.status = 0;
    r.content_type.clear();
    r.response.clear();
}

void DohClient::pump_h2() {
    const auto gen = conn_gen_;
    while (session_ && conn_) {
        const std::uint8_t* data = nullptr;
        const ssize_t n = nghttp2_session_mem_send(session_.get(), &data);
        if (n < 0) {
            const Error e{Errc::UpstreamFailure,
                          label_ + ": HTTP/2: " + nghttp2_strerror(static_cast<int>(n))};
            drop_connection();
            fail_all(e);
            return;
        }
        if (n == 0) {
            break;
        }
        conn_->write(std::span<const std::uint8_t>(data, static_cast<std::size_t>(n)));
        if (gen != conn_gen_) {
            return; // the write failed and the connection is gone
        }
    }
    if (session_ && nghttp2_session_want_read(session_.get()) == 0 &&
        nghttp2_session_want_write(session_.get()) == 0) {
        drop_connection(); // after GOAWAY with every stream done
    }
    run_deferred();
}

void DohClient::on_plaintext(std::span<const std::uint8_t> bytes) {
    if (opts_.http == DohOptions::Http::H1) {
        h1_buf_.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
        read_h1();
        return;
    }
    if (!session_) {
        return;
    }
    const ssize_t n = nghttp2_session_mem_recv(session_.get(), bytes.data(), bytes.size());
    if (n < 0) {
        const Error e{Errc::UpstreamFailure,
                      label_ + ": HTTP/2: " + nghttp2_strerror(static_cast<int>(n))};
        drop_connection();
        run_deferred();
        fail_all(e);
        return;
    }
    pump_h2(); // WINDOW_UPDATE, SETTINGS ack, and whatever the callbacks queued; runs deferred work
}

int DohClient::on_h2_header(nghttp2_session* s, const nghttp2_frame* frame,
                            const std::uint8_t* name, std::size_t namelen,
                            const std::uint8_t* value, std::size_t valuelen, std::uint8_t /*flags*/,
                            void* /*user*/) {
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_RESPONSE) {
        return 0;
    }
    auto* r = static_cast<Request*>(nghttp2_session_get_stream_user_data(s, frame->hd.stream_id));
    if (r == nullptr) {
        return 0;
    }
    const std::string_view n(reinterpret_cast<const char*>(name), namelen);
    const std::string_view v(reinterpret_cast<const char*>(value), valuelen);
    if (n == ":status") {
        r->status = 0;
        for (char c : v) {
            r->status =
                std::isdigit(static_cast<unsigned char>(c)) != 0 ? r->status * 10 + (c - '0') : 0;
        }
    } else if (n == "content-type") {
        r->content_type = std::string(v);
    }
    return 0;
}

int DohClient::on_h2_data(nghttp2_session* s, std::uint8_t /*flags*/, std::int32_t stream_id,
                          const std::uint8_t* data, std::size_t len, void* /*user*/) {
    auto* r = static_cast<Request*>(nghttp2_session_get_stream_user_data(s, stream_id));
    if (r == nullptr) {
        return 0;
    }
    if (r->response.size() + len > kMaxBody) {
        nghttp2_submit_rst_stream(s, NGHTTP2_FLAG_NONE, stream_id, NGHTTP2_CANCEL);
        r->status = -1; // marks "too large" for on_h2_stream_close
        return 0;
    }
    r->response.append(reinterpret_cast<const char*>(data), len);
    return 0;
}

int DohClient::on_h2_stream_close(nghttp2_session* s, std::int32_t stream_id,
                                  std::uint32_t error_code, void* user) {
    auto* self = static_cast<DohClient*>(user);
    auto* r = static_cast<Request*>(nghttp2_session_get_stream_user_data(s, stream_id));
    if (r == nullptr) {
        return 0; // timed out earlier
    }
    nghttp2_session_set_stream_user_data(s, stream_id, nullptr);
    r->stream_id = -1;
    if (r->status == -1) {
        self->deferred_.emplace_back(
            r->serial,
            Error{Errc::UpstreamFailure, self->label_ + ": response body over 65535 bytes"});
    } else if (error_code == NGHTTP2_NO_ERROR && r->status != 0) {
        self->answered(*r);
    } else if (error_code == NGHTTP2_REFUSED_STREAM && !r->retried) {
        // RFC 9113 §8.7: a refused stream was not processed and is safe to retry; so is one
        // above a GOAWAY's last stream ID, which nghttp2 closes with REFUSED_STREAM.
        self->retry_.push_back(r->serial);
    } else if (error_code == NGHTTP2_REFUSED_STREAM && self->goaway_ &&
               stream_id > self->goaway_last_stream_) {
        self->deferred_.emplace_back(
            r->serial,
            Error{Errc::UpstreamFailure, self->label_ + ": HTTP/2 GOAWAY (" +
                                             nghttp2_http2_strerror(self->goaway_code_) +
                                             ") before the answer, also on a new connection"});
    } else {
        self->deferred_.emplace_back(
            r->serial,
            Error{Errc::UpstreamFailure, self->label_ + ": HTTP/2 stream reset by server (" +
                                             nghttp2_http2_strerror(error_code) + ")"});
    }
    return 0;
}

int DohClient::on_h2_frame(nghttp2_session* /*s*/, const nghttp2_frame* frame, void* user) {
    if (frame->hd.type == NGHTTP2_GOAWAY) {
        // RFC 9113 §6.8: no new streams here; nghttp2 closes the ones above last_stream_id
        // with REFUSED_STREAM, which on_h2_stream_close retries on a new connection.
        auto* self = static_cast<DohClient*>(user);
        self->goaway_ = true;
        self->goaway_last_stream_ = frame->goaway.last_stream_id;
        self->goaway_code_ = frame->goaway.error_code;
    }
    return 0;
}

ssize_t DohClient::on_h2_read_body(nghttp2_session* s, std::int32_t stream_id, std::uint8_t* buf,
                                   std::size_t length, std::uint32_t* flags,
                                   nghttp2_data_source* /*source*/, void* /*user*/) {
    // Looked up by stream rather than through `source`, which would dangle after a timeout.
    auto* r = static_cast<Request*>(nghttp2_session_get_stream_user_data(s, stream_id));
    if (r == nullptr) {
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; // resets the stream
    }
    const std::size_t n = std::min(length, r->body.size() - r->body_sent);
    std::copy_n(r->body.data() + r->body_sent, n, buf);
    r->body_sent += n;
    if (r->body_sent == r->body.size()) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    }
    return static_cast<ssize_t>(n);
}

void DohClient::start_h1() {
    for (auto& [serial, r] : requests_) {
        if (r->state != State::Queued) {
            continue;
        }
        const bool post = opts_.method == DohOptions::Method::Post;
        std::string head = std::string(post ? "POST " : "GET ") + r->path +
                           " HTTP/1.1\r\nHost: " + opts_.authority + "\r\nAccept: " +
                           (opts_.method == DohOptions::Method::Json ? kDnsJson : kDnsMessage) +
                           "\r\nUser-Agent: dnslab\r\n";
        if (post) {
            head += std::string("Content-Type: ") + kDnsMessage +
                    "\r\nContent-Length: " + std::to_string(r->body.size()) + "\r\n";
        }
        for (const auto& [name, value] : opts_.headers) {
            head += name + ": " + value + "\r\n";
        }
        head += "\r\n";
        head += r->body;
        r->state = State::InFlight;
        r->sent_at = Clock::now();
        r->status = 0;
        r->content_type.clear();
        r->response.clear();
        h1_current_ = serial;
        h1_buf_.clear();
        conn_->write(std::span(reinterpret_cast<const std::uint8_t*>(head.data()), head.size()));
        return; // one request at a time on HTTP/1.1 (no pipelining: RFC 9112 §9.3.2 caveats)
    }
}

void DohClient::read_h1() {
    auto it = requests_.find(h1_current_);
    if (it == requests_.end()) {
        if (!h1_buf_.empty()) { // bytes nobody asked for: the stream is out of sync
            const Error e{Errc::UpstreamFailure, label_ + ": HTTP/1.1 response without a request"};
            drop_connection();
            fail_all(e);
        }
        return;
    }
    Request& r = *it->second;
    const auto broken = [&](const std::string& why) {
        const Error e{Errc::UpstreamFailure, label_ + ": HTTP/1.1: " + why};
        drop_connection();
        fail_all(e);
    };
    for (;;) { // loops only over 1xx interim responses
        const auto end = h1_buf_.find("\r\n\r\n");
        if (end == std::string::npos) {
            if (h1_buf_.size() > kMaxH1Head) {
                broken("response head too large");
            }
            return;
        }
        const std::string head = h1_buf_.substr(0, end);
        std::size_t pos = head.find("\r\n");
        const std::string status_line = head.substr(0, pos);
        if (!status_line.starts_with("HTTP/1.") || status_line.size() < 12) {
            broken("bad status line '" + status_line + "'");
            return;
        }
        const int status = std::atoi(status_line.c_str() + 9);
        std::string content_type;
        long content_length = -1;
        bool chunked = false;
        bool close_after = status_line.starts_with("HTTP/1.0");
        while (pos != std::string::npos) {
            const std::size_t next = head.find("\r\n", pos + 2);
            const std::string line = head.substr(
                pos + 2, next == std::string::npos ? std::string::npos : next - pos - 2);
            pos = next;
            const auto colon = line.find(':');
            if (colon == std::string::npos) {
                continue;
            }
            const std::string name = lower(line.substr(0, colon));
            std::string value = line.substr(colon + 1);
            value.erase(0, value.find_first_not_of(" \t"));
            if (name == "content-type") {
                content_type = value;
            } else if (name == "content-length") {
                content_length = std::atol(value.c_str());
            } else if (name == "transfer-encoding") {
                chunked = lower(value).find("chunked") != std::string::npos;
            } else if (name == "connection") {
                close_after = lower(value).find("close") != std::string::npos;
            }
        }
        if (status >= 100 && status < 200) {
            h1_buf_.erase(0, end + 4);
            continue;
        }
        // Body: chunked (RFC 9112 §7.1), Content-Length, or until close.
        std::string body;
        std::size_t consumed = end + 4;
        if (chunked) {
            for (;;) {
                const auto eol = h1_buf_.find("\r\n", consumed);
                if (eol == std::string::npos) {
                    return; // wait for more
                }
                const std::size_t size = std::strtoul(h1_buf_.c_str() + consumed, nullptr, 16);
                if (size > kMaxBody || body.size() + size > kMaxBody) {
                    broken("response body over 65535 bytes");
                    return;
                }
                if (h1_buf_.size() < eol + 2 + size + 2) {
                    return;
                }
                if (size == 0) {
                    const auto trailer_end = h1_buf_.find("\r\n\r\n", eol);
                    if (trailer_end == std::string::npos) {
                        if (h1_buf_.compare(eol, 4, "\r\n\r\n") != 0 && h1_buf_.size() < eol + 4) {
                            return;
                        }
                    }
                    consumed = (trailer_end == std::string::npos ? eol : trailer_end) + 4;
                    break;
                }
                body.append(h1_buf_, eol + 2, size);
                consumed = eol + 2 + size + 2;
            }
        } else if (content_length >= 0) {
            if (static_cast<std::size_t>(content_length) > kMaxBody) {
                broken("response body over 65535 bytes");
                return;
            }
            if (h1_buf_.size() < consumed + static_cast<std::size_t>(content_length)) {
                return;
            }
            body = h1_buf_.substr(consumed, static_cast<std::size_t>(content_length));
            consumed += static_cast<std::size_t>(content_length);
        } else {
            broken("response without Content-Length or chunked encoding is not supported");
            return;
        }
        h1_buf_.erase(0, consumed);
        r.status = status;
        r.content_type = content_type;
        r.response = std::move(body);
        h1_current_ = 0;
        if (close_after) {
            drop_connection();
        }
        answered(r);
        run_deferred();
        dispatch(); // the next queued request, on this connection or a new one
        return;
    }
}

void DohClient::answered(Request& r) {
    Exchange ex;
    ex.http_status = r.status;
    ex.content_type = r.content_type;
    ex.server = conn_peer_;
    ex.reused_connection = r.reused;
    ex.connect_ms = r.reused ? 0 : conn_connect_ms_;
    ex.query_ms = ms_since(r.sent_at);
    if (r.status != 200) {
        if (!opts_.errors_as_exchange) {
            deferred_.emplace_back(r.serial, Error{Errc::UpstreamFailure,
                                                   label_ + ": HTTP " + std::to_string(r.status)});
            return;
        }
        ex.body = std::move(r.response);
        deferred_.emplace_back(r.serial, std::move(ex));
        return;
    }
    if (opts_.method == DohOptions::Method::Json) {
        ex.body = std::move(r.response);
        deferred_.emplace_back(r.serial, std::move(ex));
        return;
    }
    if (media_type(r.content_type) != kDnsMessage) { // RFC 8484 §4.2.1
        deferred_.emplace_back(
            r.serial, Error{Errc::UpstreamFailure, label_ + ": HTTP 200 with content-type '" +
                                                       r.content_type + "', not " + kDnsMessage});
        return;
    }
    if (r.response.size() < 12) {
        deferred_.emplace_back(
            r.serial, Error{Errc::UpstreamFailure, label_ + ": answer shorter than a DNS header"});
        return;
    }
    ex.wire.assign(r.response.begin(), r.response.end());
    ex.wire[0] = static_cast<std::uint8_t>(r.caller_id >> 8); // RFC 8484 §4.1: we sent ID 0
    ex.wire[1] = static_cast<std::uint8_t>(r.caller_id & 0xFF);
    deferred_.emplace_back(r.serial, std::move(ex));
}

void DohClient::run_deferred() {
    auto retry = std::move(retry_);
    retry_.clear();
    for (auto serial : retry) {
        if (auto it = requests_.find(serial); it != requests_.end()) {
            it->second->retried = true;
            it->second->state = State::Queued;
            it->second->reused = false;
        }
    }
    auto done = std::move(deferred_);
    deferred_.clear();
    for (auto& [serial, result] : done) {
        finish(serial, std::move(result));
    }
    if (!retry.empty()) {
        dispatch();
    }
}

void DohClient::finish(std::uint64_t serial, Result<Exchange> result) {
    auto it = requests_.find(serial);
    if (it == requests_.end()) {
        return;
    }
    std::unique_ptr<Request> r = std::move(it->second);
    requests_.erase(it);
    r->timer.close();
    if (session_ && r->stream_id > 0) {
        // Timed out while its stream is open: forget it and tell the server (RFC 9113 §6.4).
        nghttp2_session_set_stream_user_data(session_.get(), r->stream_id, nullptr);
        nghttp2_submit_rst_stream(session_.get(), NGHTTP2_FLAG_NONE, r->stream_id, NGHTTP2_CANCEL);
    }
    arm_idle();
    r->done(std::move(result)); // may re-enter send()
}

void DohClient::on_connection_error(Error error) {
    const bool was_up = conn_up_;
    drop_connection();
    deferred_.clear(); // nothing was collected for a connection that is gone
    retry_.clear();
    // A request written on a connection that had already been up may have crossed the
    // server's idle close: retry it once on a fresh connection (RFC 9113 §8.7 logic for h1/h2).
    bool retrying = false;
    if (was_up && error.code == Errc::UpstreamFailure) {
        for (auto& [serial, r] : requests_) {
            if (r->reused && !r->retried) {
                r->retried = true;
                r->state = State::Queued;
                r->stream_id = -1;
                retrying = true;
            }
        }
    }
    std::vector<std::uint64_t> failed; // everything not going to the new connection
    for (auto& [serial, r] : requests_) {
        if (!(retrying && r->state == State::Queued)) {
            failed.push_back(serial);
        }
    }
    for (auto serial : failed) {
        finish(serial, error);
    }
    if (!requests_.empty()) {
        dispatch();
    }
}

void DohClient::fail_all(const Error& error) {
    std::vector<std::uint64_t> serials;
    for (const auto& [serial, r] : requests_) {
        serials.push_back(serial);
    }
    for (auto serial : serials) {
        finish(serial, error);
    }
}

void DohClient::arm_idle() {
    if (requests_.empty() && conn_ && idle_timer_) {
        uv_timer_start(idle_timer_.get(), &DohClient::on_idle, opts_.idle_timeout_ms, 0);
    }
}

void DohClient::on_request_timeout(uv_timer_t* timer) {
    auto* r = static_cast<Request*>(timer->data);
    DohClient* self = r->owner;
    const bool blocks_h1 =
        self->opts_.http == DohOptions::Http::H1 && self->h1_current_ == r->serial;
    const char* why = self->conn_ && !self->conn_up_ ? " (TLS handshake not finished)" : "";
    self->finish(r->serial, fail(Errc::UpstreamTimeout, self->label_ + ": no answer within " +
                                                            std::to_string(self->opts_.timeout_ms) +
                                                            " ms" + why));
    if (blocks_h1) {
        // HTTP/1.1 cannot cancel one request: the connection goes, the queue moves to a new one.
        self->drop_connection();
        self->dispatch();
    } else if (self->session_) {
        self->pump_h2(); // sends the RST_STREAM
    }
}

void DohClient::on_idle(uv_timer_t* timer) {
    auto* self = static_cast<DohClient*>(timer->data);
    if (!self->requests_.empty()) {
        return;
    }
    if (self->session_) {
        // RFC 9113 §6.8: a graceful close tells the server we open no more streams.
        nghttp2_session_terminate_session(self->session_.get(), NGHTTP2_NO_ERROR);
        const auto gen = self->conn_gen_;
        self->pump_h2();
        if (gen != self->conn_gen_) {
            return;
        }
    }
    self->drop_connection();
}

void DohClient::shutdown() {
    if (shut_down_) {
        return;
    }
    shut_down_ = true;
    drop_connection();
    idle_timer_.close();
    deferred_.clear();
    retry_.clear();
    fail_all(Error{Errc::UpstreamFailure, label_ + ": upstream shut down"});
}
} // namespace

Result<std::string> json_query_string(std::span<const std::uint8_t> query) {
    auto parsed = wire::parse(query);
    if (!parsed || parsed.message->question.empty()) {
        return fail(Errc::MalformedQuery, "method=json needs a query with a question");
    }
    const auto& m = *parsed.message;
    const auto& q = m.question.front();
    std::string name = q.qname.to_text();
    if (name.size() > 1 && name.back() == '.') {
        name.pop_back();
    }
    std::string out =
        "name=" + percent_encode(name) + "&type=" + percent_encode(wire::type_name(q.qtype));
    if (m.edns && m.edns->dnssec_ok) {
        out += "&do=1";
    }
    if (m.flag(wire::kFlagCd)) {
        out += "&cd=1";
    }
    return out;
}

Result<DohOptions> parse_doh_options(const util::Url& url, const UpstreamOptions& defaults) {
    if (url.scheme != "https") {
        return fail(Errc::ConfigInvalid, url.to_string() + ": not an https:// URL");
    }
    DohOptions o;
    if (!url.path.empty() && url.path != "/") {
        o.path = url.path;
    }
    const std::string method = lower(url.param("method", "post"));
    if (method == "get") {
        o.method = DohOptions::Method::Get;
    } else if (method == "post") {
        o.method = DohOptions::Method::Post;
    } else if (method == "json") {
        o.method = DohOptions::Method::Json;
    } else {
        return fail(Errc::ConfigInvalid, url.to_string() + ": method= must be get, post or json");
    }
    const std::string http = lower(url.param("http", "2"));
    if (http == "2" || http == "h2") {
        o.http = DohOptions::Http::H2;
    } else if (http == "1.1" || http == "http/1.1" || http == "1") {
        o.http = DohOptions::Http::H1;
    } else {
        return fail(Errc::ConfigInvalid, url.to_string() + ": http= must be 2 or 1.1");
    }
    const std::string errors = url.param("errors", "error");
    if (errors != "error" && errors != "exchange") {
        return fail(Errc::ConfigInvalid, url.to_string() + ": errors= must be error or exchange");
    }
    o.errors_as_exchange = errors == "exchange";
    for (const auto& [key, value] : url.params) {
        if (!key.starts_with("header.")) {
            continue;
        }
        std::string name = lower(key.substr(7));
        const bool token =
            !name.empty() && std::all_of(name.begin(), name.end(), [](unsigned char c) {
                return std::isalnum(c) != 0 || c == '-' || c == '_' || c == '.';
            });
        if (!token || value.find_first_of("\r\n") != std::string::npos) {
            return fail(Errc::ConfigInvalid,
                        url.to_string() + ": bad header parameter '" + key + "'");
        }
        o.headers.emplace_back(std::move(name), value);
    }
    if (auto st = read_tls_upstream(url, defaults, 443,
                                    o.http == DohOptions::Http::H2 ? "h2" : "http/1.1", o);
        !st) {
        return st.error();
    }
    // The authority names the service we want, which is the verified name (sni=) when given,
    // so a lab DoH subdomain reaches the server as SNI and :authority alike.
    if (auto sni = url.params.find("sni"); sni != url.params.end()) {
        o.authority = util::Url{"https", sni->second, std::nullopt, "", {}}.authority();
    } else {
        o.authority = util::Url{"https", url.host, std::nullopt, "", {}}.authority();
    }
    if (o.port != 443) {
        o.authority += ":" + std::to_string(o.port);
    }
    return o;
}

Result<UpstreamPtr> make_doh_upstream(uv_loop_t* loop, const util::Url& url,
                                      const UpstreamOptions& opts) {
    return make_tls_client<DohClient>(loop, url, parse_doh_options(url, opts));
}

} // namespace resolver::upstream
