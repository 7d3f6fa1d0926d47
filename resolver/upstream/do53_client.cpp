// SPDX-License-Identifier: MIT
#include "resolver/upstream/do53_client.hpp"

#include <arpa/inet.h>

#include <charconv>

namespace resolver::upstream {
namespace {
Error to_error(int status, const std::string& server) {
    switch (status) {
    case ARES_ETIMEOUT:
        return fail(Errc::UpstreamTimeout, server + " timed out");
    case ARES_ECONNREFUSED:
        return fail(Errc::UpstreamFailure, server + " connection refused");
    case ARES_EDESTRUCTION:
    case ARES_ECANCELLED:
        return fail(Errc::UpstreamFailure, server + " query cancelled (shutting down)");
    case ARES_EBADRESP:
        return fail(Errc::UpstreamFailure, server + " sent a malformed answer");
    default:
        return fail(Errc::UpstreamFailure, server + " " + ares_strerror(status));
    }
}

unsigned param_uint(const util::Url& url, const char* key, unsigned fallback) {
    const std::string v = url.param(key);
    unsigned out = 0;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
    return (v.empty() || ec != std::errc{} || p != v.data() + v.size()) ? fallback : out;
}
// `source=ADDR`: send from this local address (what `kdig -b` does), so a probe can stand in
// for a client of a given network. c-ares binds every socket of the channel to it.
Status bind_source(ares_channel ch, const util::Url& url) {
    const std::string src = url.param("source");
    if (src.empty()) {
        return ok();
    }
    const bool server_v6 = util::is_ipv6_literal(url.host);
    in_addr a4{};
    in6_addr a6{};
    if (inet_pton(AF_INET, src.c_str(), &a4) == 1 && !server_v6) {
        ares_set_local_ip4(ch, ntohl(a4.s_addr)); // c-ares wants host byte order
        return ok();
    }
    if (inet_pton(AF_INET6, src.c_str(), &a6) == 1 && server_v6) {
        ares_set_local_ip6(ch, a6.s6_addr);
        return ok();
    }
    return fail(Errc::ConfigInvalid, url.to_string() + ": source=" + src +
                                         " is not an IP address of the server's family");
}
} // namespace

Result<std::unique_ptr<Do53Client>> Do53Client::create(uv_loop_t* loop, const util::Url& url,
                                                       const UpstreamOptions& opts) {
    if (url.scheme != "udp" && url.scheme != "tcp") {
        return fail(Errc::ConfigInvalid, url.to_string() + ": not a Do53 URL");
    }
    if (!util::is_ip_literal(url.host)) {
        return fail(Errc::ConfigInvalid,
                    url.to_string() + ": Do53 upstreams take an IP address, not a name");
    }
    const std::string server = url.authority().empty() ? url.host : url.authority();
    std::unique_ptr<Do53Client> self(
        new Do53Client(loop, url.to_string(),
                       (util::is_ipv6_literal(url.host) ? "[" + url.host + "]" : url.host) + ":" +
                           std::to_string(url.port_or(53))));
    auto timer =
        util::UvHandle<uv_timer_t>::create([&](uv_timer_t* t) { return uv_timer_init(loop, t); });
    if (!timer) {
        return timer.error();
    }
    self->timer_ = std::move(timer).value();
    self->timer_.get()->data = self.get();

    ares_options o{};
    int mask = ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_SOCK_STATE_CB;
    // NOCHECKRESP: SERVFAIL/REFUSED answers come back to us as answers, not as c-ares
    // errors, so the client sees what the server said.
    o.flags = ARES_FLAG_NOCHECKRESP | ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES;
    if (url.scheme == "tcp") {
        o.flags |= ARES_FLAG_USEVC | ARES_FLAG_STAYOPEN;
    }
    if (url.param("tc") == "keep") {
        o.flags |= ARES_FLAG_IGNTC;
    }
    o.timeout = static_cast<int>(param_uint(url, "timeout", opts.timeout_ms));
    o.tries = static_cast<int>(std::max(1u, param_uint(url, "tries", opts.tries)));
    o.sock_state_cb = &Do53Client::on_socket_state;
    o.sock_state_cb_data = self.get();
    ares_channel ch = nullptr;
    if (int rc = ares_init_options(&ch, &o, mask); rc != ARES_SUCCESS) {
        return fail(Errc::Internal, std::string("ares_init_options: ") + ares_strerror(rc));
    }
    self->channel_.reset(ch);
    const std::string csv = (util::is_ipv6_literal(url.host) ? "[" + url.host + "]" : url.host) +
                            ":" + std::to_string(url.port_or(53));
    if (int rc = ares_set_servers_ports_csv(ch, csv.c_str()); rc != ARES_SUCCESS) {
        return fail(Errc::ConfigInvalid, url.to_string() + ": " + ares_strerror(rc));
    }
    if (auto st = bind_source(ch, url); !st) {
        return st.error();
    }
    (void)server;
    return self;
}

Do53Client::~Do53Client() {
    shutdown();
}

void Do53Client::shutdown() {
    if (shut_down_) {
        return;
    }
    shut_down_ = true;
    // ares_destroy completes every pending query with ARES_EDESTRUCTION (their owners see
    // an error) and reports closed sockets through on_socket_state.
    channel_.reset();
    polls_.clear();
    timer_.close();
}

void Do53Client::send(std::vector<std::uint8_t> query, Completion done) {
    if (shut_down_) {
        done(fail(Errc::UpstreamFailure, server_ + " client shut down"));
        return;
    }
    auto pending =
        std::make_unique<Pending>(Pending{this, std::move(done), std::chrono::steady_clock::now()});
    ares_send(channel_.get(), query.data(), static_cast<int>(query.size()), &Do53Client::on_answer,
              pending.release()); // adopted again in on_answer, which c-ares calls exactly once
    if (!shut_down_) {
        rearm_timer();
    }
}

void Do53Client::on_answer(void* arg, int status, int /*timeouts*/, unsigned char* abuf, int alen) {
    std::unique_ptr<Pending> pending(static_cast<Pending*>(arg));
    if (status != ARES_SUCCESS) {
        pending->done(to_error(status, pending->self->server_));
        return;
    }
    Exchange ex;
    ex.wire.assign(abuf, abuf + alen);
    ex.server = pending->self->server_;
    ex.query_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - pending->sent)
            .count();
    pending->done(std::move(ex));
}

void Do53Client::on_socket_state(void* data, ares_socket_t fd, int readable, int writable) {
    auto* self = static_cast<Do53Client*>(data);
    if (readable == 0 && writable == 0) {
        self->polls_.erase(fd); // UvHandle closes the poll handle asynchronously
        return;
    }
    auto it = self->polls_.find(fd);
    if (it == self->polls_.end()) {
        auto poll = util::UvHandle<uv_poll_t>::create(
            [&](uv_poll_t* h) { return uv_poll_init_socket(self->loop_, h, fd); });
        if (!poll) {
            return; // c-ares will time the query out; reported to the caller as a timeout
        }
        it = self->polls_.emplace(fd, std::move(poll).value()).first;
        it->second.get()->data = self;
    }
    const int events = (readable != 0 ? UV_READABLE : 0) | (writable != 0 ? UV_WRITABLE : 0);
    if (uv_poll_start(it->second.get(), events, &Do53Client::on_poll) != 0) {
        self->polls_.erase(it); // c-ares will time the query out
    }
}

void Do53Client::on_poll(uv_poll_t* handle, int status, int events) {
    auto* self = static_cast<Do53Client*>(handle->data);
    uv_os_fd_t fd = -1;
    if (uv_fileno(reinterpret_cast<uv_handle_t*>(handle), &fd) != 0) {
        return;
    }
    // On a poll error let c-ares read the socket and meet the error itself.
    const bool can_read = status < 0 || (events & UV_READABLE) != 0;
    const bool can_write = status >= 0 && (events & UV_WRITABLE) != 0;
    ares_process_fd(self->channel_.get(), can_read ? fd : ARES_SOCKET_BAD,
                    can_write ? fd : ARES_SOCKET_BAD);
    if (!self->shut_down_) {
        self->rearm_timer();
    }
}

void Do53Client::on_timer(uv_timer_t* timer) {
    auto* self = static_cast<Do53Client*>(timer->data);
    ares_process_fd(self->channel_.get(), ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    if (!self->shut_down_) {
        self->rearm_timer();
    }
}

void Do53Client::rearm_timer() {
    if (!timer_ || !channel_) {
        return;
    }
    timeval tv{};
    if (ares_timeout(channel_.get(), nullptr, &tv) == nullptr) {
        uv_timer_stop(timer_.get());
        return;
    }
    const auto ms = static_cast<std::uint64_t>(tv.tv_sec) * 1000 +
                    static_cast<std::uint64_t>(tv.tv_usec) / 1000;
    uv_timer_start(timer_.get(), &Do53Client::on_timer, ms == 0 ? 1 : ms, 0);
}

} // namespace resolver::upstream
