// SPDX-License-Identifier: MIT
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>

#include <uv.h>

#include "resolver/core/result.hpp"
#include "resolver/util/c_handles.hpp"
#include "resolver/util/url.hpp"

namespace resolver::telemetry {

/// A tiny HTTP/1.1 server for Prometheus scrapes (RFC 9112): GET or HEAD of the configured
/// path answers 200 with `body()` as `text/plain; version=0.0.4`; other paths 404, other
/// methods 405, unparseable requests 400 and a close. Keep-alive as the client asks. Requests
/// are read by resolver/io/http1's parser, the one the DoH listener uses: it already caps
/// header and body sizes, handles pipelining and is fuzzed, so a second parser (llhttp) would
/// add a package and nothing a scrape needs. At most 16 connections, each closed after 10 s
/// idle. Loop-thread only; `body` is called on the loop for every scrape.
class MetricsServer {
public:
    using Body = std::function<std::string()>;

    /// `url`: http://ADDR:PORT/PATH (port 0 picks one; PATH defaults to /metrics).
    static Result<std::unique_ptr<MetricsServer>> create(uv_loop_t* loop, const util::Url& url,
                                                         Body body);
    ~MetricsServer();
    MetricsServer(const MetricsServer&) = delete;
    MetricsServer& operator=(const MetricsServer&) = delete;

    /// The URL with the bound port, as the ready file prints it ("metrics http://...").
    [[nodiscard]] const std::string& url() const { return url_; }
    /// Stops accepting and closes every connection. Idempotent.
    void stop();

private:
    class Connection;
    MetricsServer(uv_loop_t* loop, Body body);
    void on_connection();
    void forget(Connection* c);
    [[nodiscard]] std::string respond(const std::string& method, const std::string& target,
                                      bool keep_alive) const;

    uv_loop_t* loop_;
    Body body_;
    std::string path_;
    std::string url_;
    std::unordered_map<Connection*, std::unique_ptr<Connection>> conns_;
    util::UvHandle<uv_tcp_t> listen_; // last: its callback uses everything above
};

} // namespace resolver::telemetry
