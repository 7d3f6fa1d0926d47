// SPDX-License-Identifier: MIT
#pragma once
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <sys/socket.h>

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
///
/// Tries: each query gets `tries` attempts of `timeout` ms each, so the worst case is
/// tries × timeout (4 s with the defaults, inside a client's 5 s). c-ares is given one try
/// per send and we resend: its own retries double the timeout (2 s + 4 s = 6 s before).
///
/// What went wrong is reported as what it was. The sockets are c-ares's, opened through
/// ares_set_socket_functions so this client sees what c-ares reads and the errors it meets:
///  - a UDP datagram with the question of a pending query but another ID is ignored, as
///    c-ares and RFC 5452 §9.1 require; if no valid answer follows, the error says
///    "answer with wrong ID from X (N ignored)" rather than "timed out";
///  - a datagram with a pending query's ID that does not parse: "malformed answer from X";
///  - a TC answer whose TCP retry fails: "truncated answer (TC) from X; the TCP retry
///    failed: …";
///  - a TCP reset is "connection reset by peer" (c-ares says ECONNREFUSED for any broken
///    connection), a close "connection closed by peer".
/// A local address to send from (`source=ADDR`).
struct SourceAddress {
    sockaddr_storage addr;
    socklen_t len;
};

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
    [[nodiscard]] bool keeps_truncated() const override { return keep_tc_; }
    void shutdown() override;

    /// Datagrams c-ares read that were not an answer to a pending query (wrong ID, or no
    /// query of that question pending), for metrics and tests.
    [[nodiscard]] std::uint64_t stray_datagrams() const { return stray_; }

private:
    Do53Client(uv_loop_t* loop, std::string url, std::string server)
        : loop_(loop), url_(std::move(url)), server_(std::move(server)) {}

    /// One query, across its tries. Owned by c-ares between ares_send and on_answer.
    struct Pending {
        Do53Client* self;
        Completion done;
        std::vector<std::uint8_t> query; // kept for the next try
        std::uint16_t id = 0;
        std::optional<std::pair<std::string, std::uint16_t>> question; // lower-case name, type
        unsigned attempt = 1;
        std::chrono::steady_clock::time_point sent;
        std::uint64_t error_seq = 0; // socket errors numbered above this one are its own
        unsigned wrong_ids = 0;      // datagrams with its question and another ID
        bool truncated_udp = false;  // a TC answer came over UDP (c-ares went on over TCP)
        std::string malformed;       // why a datagram with its ID did not parse
    };
    /// The last socket error c-ares met (numbered, so a query only blames errors that came
    /// after it was sent).
    struct SocketError {
        std::uint64_t seq = 0;
        int err = 0; // errno; 0 = closed by the peer (a read of 0 bytes on TCP)
        bool tcp = false;
    };

    void submit(std::unique_ptr<Pending> p);
    void forget(const Pending* p);
    [[nodiscard]] Error describe(int status, const Pending& p) const;
    void note_socket_error(ares_socket_t fd, int err);
    void inspect_datagram(std::span<const std::uint8_t> datagram);
    [[nodiscard]] bool is_tcp(ares_socket_t fd) const;

    static void on_answer(void* arg, int status, int timeouts, unsigned char* abuf, int alen);
    static ares_socket_t hook_socket(int domain, int type, int protocol, void* self);
    static int hook_close(ares_socket_t fd, void* self);
    static int hook_connect(ares_socket_t fd, const struct sockaddr* sa, ares_socklen_t len,
                            void* self);
    static ares_ssize_t hook_recvfrom(ares_socket_t fd, void* buf, size_t len, int flags,
                                      struct sockaddr* from, ares_socklen_t* from_len, void* self);
    static ares_ssize_t hook_sendv(ares_socket_t fd, const struct iovec* iov, int n, void* self);
    static void on_socket_state(void* data, ares_socket_t fd, int readable, int writable);
    static void on_poll(uv_poll_t* handle, int status, int events);
    static void on_timer(uv_timer_t* timer);
    void rearm_timer();

    uv_loop_t* loop_;
    std::string url_;
    std::string server_; // "ip:port" as shown in errors and logs
    bool shut_down_ = false;
    bool keep_tc_ = false;
    std::optional<SourceAddress> source_;
    unsigned tries_ = 2;
    unsigned timeout_ms_ = 2000;
    std::unordered_multimap<std::uint16_t, Pending*> pending_; // by ID, for inspect_datagram
    SocketError last_error_;
    std::uint64_t error_seq_ = 0;
    std::uint64_t stray_ = 0;
    std::unordered_map<ares_socket_t, int> socket_types_; // SOCK_DGRAM or SOCK_STREAM
    util::UvHandle<uv_timer_t> timer_;
    // Declared before channel_ so it outlives it: ares_destroy() reports the sockets it
    // closes through on_socket_state(), which still needs this map.
    std::unordered_map<ares_socket_t, util::UvHandle<uv_poll_t>> polls_;
    util::AresChannel channel_;
};

} // namespace resolver::upstream
