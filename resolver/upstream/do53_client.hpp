// SPDX-License-Identifier: MIT
#pragma once
#include <chrono>
#include <memory>
#include <string>
#include <unordered_map>

#include <ares.h>
#include <uv.h>

#include "resolver/upstream/upstream.hpp"
#include "resolver/util/c_handles.hpp"
#include "resolver/util/url.hpp"

namespace resolver::upstream {

/// Do53 upstream over c-ares, driven by the caller's libuv loop (c-ares 1.18: no event
/// thread and no ares_process_fds, so ARES_OPT_SOCK_STATE_CB + ares_process_fd + a timer
/// re-armed from ares_timeout()). One c-ares channel per server: failover and health are
/// ours (UpstreamGroup), not c-ares's, so a dead server is visible and logged.
///
/// URL forms: `udp://IP:PORT` (a TC answer is retried over TCP by c-ares, RFC 7766 §5),
/// `udp://IP:PORT?tc=keep` (return truncated answers as they are: the probe wants them),
/// `tcp://IP:PORT` (TCP only). `timeout=MS` and `tries=N` override the options;
/// `source=ADDR` sends from that local address (the probe's `--source`, like `kdig -b`).
class Do53Client final : public Upstream {
public:
    static Result<std::unique_ptr<Do53Client>> create(uv_loop_t* loop, const util::Url& url,
                                                      const UpstreamOptions& opts);
    ~Do53Client() override;
    Do53Client(const Do53Client&) = delete;
    Do53Client& operator=(const Do53Client&) = delete;

    /// c-ares copies `query`; the caller's message ID goes on the wire unchanged (c-ares
    /// 1.18 keeps it), so callers write a fresh random ID. `done` runs exactly once.
    void send(std::vector<std::uint8_t> query, Completion done) override;
    [[nodiscard]] const std::string& url() const override { return url_; }
    void shutdown() override;

private:
    Do53Client(uv_loop_t* loop, std::string url, std::string server)
        : loop_(loop), url_(std::move(url)), server_(std::move(server)) {}

    struct Pending {
        Do53Client* self;
        Completion done;
        std::chrono::steady_clock::time_point sent;
    };

    static void on_answer(void* arg, int status, int timeouts, unsigned char* abuf, int alen);
    static void on_socket_state(void* data, ares_socket_t fd, int readable, int writable);
    static void on_poll(uv_poll_t* handle, int status, int events);
    static void on_timer(uv_timer_t* timer);
    void rearm_timer();

    uv_loop_t* loop_;
    std::string url_;
    std::string server_; // "ip:port" as shown in errors and logs
    bool shut_down_ = false;
    util::UvHandle<uv_timer_t> timer_;
    // Declared before channel_ so it outlives it: ares_destroy() reports the sockets it
    // closes through on_socket_state(), which still needs this map.
    std::unordered_map<ares_socket_t, util::UvHandle<uv_poll_t>> polls_;
    util::AresChannel channel_;
};

} // namespace resolver::upstream
