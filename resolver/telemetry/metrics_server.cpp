// SPDX-License-Identifier: MIT
#include "resolver/telemetry/metrics_server.hpp"

#include <ctime>

#include "resolver/io/http1.hpp"
#include "resolver/io/sockaddr.hpp"

namespace resolver::telemetry {
namespace {
constexpr std::size_t kMaxConnections = 16;
constexpr unsigned kIdleMs = 10000;
constexpr std::size_t kMaxHeaderBytes = 8192;
constexpr std::size_t kMaxBodyBytes = 0; // a scrape has no body

std::string response(int status, std::string_view reason, std::string_view content_type,
                     const std::string& body, bool head, bool keep_alive) {
    std::string out = "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) + "\r\n";
    out += "date: " + io::http_date(std::time(nullptr)) + "\r\n";
    out += "content-type: " + std::string(content_type) + "\r\n";
    out += "content-length: " + std::to_string(body.size()) + "\r\n";
    if (!keep_alive) {
        out += "connection: close\r\n";
    }
    out += "\r\n";
    if (!head) {
        out += body;
    }
    return out;
}
} // namespace

/// One client connection: bytes in through the parser, one response per request, in order
/// (the server answers synchronously, so order is the order of requests).
class MetricsServer::Connection {
public:
    explicit Connection(MetricsServer& owner)
        : owner_(owner), parser_(kMaxHeaderBytes, kMaxBodyBytes) {}

    Status start(uv_stream_t* server) {
        auto t = util::UvHandle<uv_tcp_t>::create(
            [&](uv_tcp_t* h) { return uv_tcp_init(owner_.loop_, h); });
        auto i = util::UvHandle<uv_timer_t>::create(
            [&](uv_timer_t* h) { return uv_timer_init(owner_.loop_, h); });
        if (!t || !i) {
            return fail(Errc::Internal, "metrics: cannot create a connection handle");
        }
        tcp_ = std::move(t).value();
        idle_ = std::move(i).value();
        tcp_.get()->data = this;
        idle_.get()->data = this;
        if (uv_accept(server, reinterpret_cast<uv_stream_t*>(tcp_.get())) != 0) {
            return fail(Errc::Internal, "metrics: accept failed");
        }
        arm_idle();
        uv_read_start(
            reinterpret_cast<uv_stream_t*>(tcp_.get()),
            [](uv_handle_t* h, std::size_t, uv_buf_t* buf) {
                auto* c = static_cast<Connection*>(h->data);
                *buf = uv_buf_init(c->buf_, sizeof c->buf_);
            },
            [](uv_stream_t* s, ssize_t n, const uv_buf_t*) {
                static_cast<Connection*>(s->data)->on_read(n);
            });
        return ok();
    }

    void close() {
        if (tcp_) {
            tcp_.get()->data = nullptr; // a pending shutdown callback must not come back here
        }
        tcp_.close();
        idle_.close();
    }

private:
    struct WriteReq {
        uv_write_t req{};
        std::string bytes;
    };

    void arm_idle() {
        uv_timer_start(
            idle_.get(), [](uv_timer_t* t) { static_cast<Connection*>(t->data)->finish(); },
            kIdleMs, 0);
    }

    void on_read(ssize_t n) {
        if (n < 0) {
            finish(); // EOF or error
            return;
        }
        parser_.feed({reinterpret_cast<const std::uint8_t*>(buf_), static_cast<std::size_t>(n)});
        arm_idle();
        io::HttpRequest req;
        for (;;) {
            const auto state = parser_.next(req);
            if (state == io::Http1Parser::State::NeedMore) {
                return;
            }
            if (state == io::Http1Parser::State::Error) {
                // RFC 9112 §9.6: a stream we cannot parse cannot be resynchronised.
                write(response(parser_.error_status(), "Error", "text/plain",
                               parser_.error_reason() + "\n", false, false));
                finish();
                return;
            }
            write(owner_.respond(req.method, req.target, req.keep_alive));
            if (!req.keep_alive) {
                finish();
                return;
            }
        }
    }

    void write(std::string bytes) {
        auto* w = new WriteReq();
        w->req.data = w;
        w->bytes = std::move(bytes);
        uv_buf_t b = uv_buf_init(w->bytes.data(), static_cast<unsigned>(w->bytes.size()));
        const int rc = uv_write(&w->req, reinterpret_cast<uv_stream_t*>(tcp_.get()), &b, 1,
                                [](uv_write_t* r, int) {
                                    // Owns only itself: the connection may be gone already.
                                    delete static_cast<WriteReq*>(r->data);
                                });
        if (rc != 0) {
            delete w;
        }
    }

    /// Closes after queued writes: libuv runs pending writes before the close completes
    /// only with shutdown, so shut down first, then close.
    void finish() {
        if (finishing_) {
            return;
        }
        finishing_ = true;
        uv_read_stop(reinterpret_cast<uv_stream_t*>(tcp_.get()));
        auto* req = new uv_shutdown_t();
        if (uv_shutdown(req, reinterpret_cast<uv_stream_t*>(tcp_.get()), [](uv_shutdown_t* r, int) {
                std::unique_ptr<uv_shutdown_t> done(r);
                if (r->handle->data != nullptr) {
                    auto* c = static_cast<Connection*>(r->handle->data);
                    c->owner_.forget(c);
                }
            }) != 0) {
            delete req;
            owner_.forget(this);
        }
    }

    MetricsServer& owner_;
    io::Http1Parser parser_;
    util::UvHandle<uv_tcp_t> tcp_;
    util::UvHandle<uv_timer_t> idle_;
    char buf_[4096];
    bool finishing_ = false;
};

Result<std::unique_ptr<MetricsServer>> MetricsServer::create(uv_loop_t* loop, const util::Url& url,
                                                             Body body) {
    if (url.scheme != "http") {
        return fail(Errc::ConfigInvalid,
                    "metrics: want http://ADDR:PORT/PATH, got " + url.to_string());
    }
    auto addr = io::to_sockaddr(url.host, url.port_or(9153));
    if (!addr) {
        return fail(Errc::ConfigInvalid, "metrics " + url.to_string() + ": " + addr.error().detail);
    }
    std::unique_ptr<MetricsServer> s(new MetricsServer(loop, std::move(body)));
    s->path_ = url.path.empty() ? "/metrics" : url.path;
    auto h = util::UvHandle<uv_tcp_t>::create([&](uv_tcp_t* t) { return uv_tcp_init(loop, t); });
    if (!h) {
        return h.error();
    }
    s->listen_ = std::move(h).value();
    s->listen_.get()->data = s.get();
    auto* tcp = s->listen_.get();
    int rc = uv_tcp_bind(tcp, reinterpret_cast<const sockaddr*>(&*addr), 0);
    if (rc == 0) {
        rc =
            uv_listen(reinterpret_cast<uv_stream_t*>(tcp), 16, [](uv_stream_t* server, int status) {
                if (status == 0) {
                    static_cast<MetricsServer*>(server->data)->on_connection();
                }
            });
    }
    if (rc != 0) {
        return fail(Errc::ConfigInvalid,
                    "metrics " + url.to_string() + ": cannot listen: " + uv_strerror(rc));
    }
    sockaddr_storage bound{};
    int len = sizeof bound;
    uv_tcp_getsockname(tcp, reinterpret_cast<sockaddr*>(&bound), &len);
    util::Url u = url;
    u.port = io::to_endpoint(reinterpret_cast<const sockaddr*>(&bound)).port;
    u.path = s->path_;
    s->url_ = u.to_string();
    return s;
}

MetricsServer::MetricsServer(uv_loop_t* loop, Body body) : loop_(loop), body_(std::move(body)) {}

MetricsServer::~MetricsServer() {
    stop();
}

void MetricsServer::stop() {
    listen_.close();
    for (auto& [raw, c] : conns_) {
        c->close();
    }
    conns_.clear();
}

void MetricsServer::on_connection() {
    auto c = std::make_unique<Connection>(*this);
    if (!c->start(reinterpret_cast<uv_stream_t*>(listen_.get()))) {
        c->close();
        return;
    }
    if (conns_.size() >= kMaxConnections) {
        c->close(); // a scraper needs one connection; more is a leak or an attack
        return;
    }
    Connection* raw = c.get();
    conns_.emplace(raw, std::move(c));
}

void MetricsServer::forget(Connection* c) {
    auto it = conns_.find(c);
    if (it != conns_.end()) {
        it->second->close();
        conns_.erase(it);
    }
}

std::string MetricsServer::respond(const std::string& method, const std::string& target,
                                   bool keep_alive) const {
    const bool head = method == "HEAD";
    if (method != "GET" && !head) {
        return response(405, "Method Not Allowed", "text/plain", "GET or HEAD\n", head, keep_alive);
    }
    const std::string path = target.substr(0, target.find('?'));
    if (path != path_) {
        return response(404, "Not Found", "text/plain", "metrics are at " + path_ + "\n", head,
                        keep_alive);
    }
    // The content type Prometheus expects for the text format (exposition_formats.md).
    return response(200, "OK", "text/plain; version=0.0.4; charset=utf-8", body_(), head,
                    keep_alive);
}

} // namespace resolver::telemetry
