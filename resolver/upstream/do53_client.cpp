// SPDX-License-Identifier: MIT
#include "resolver/upstream/do53_client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>

#include "resolver/wire/message.hpp"

namespace resolver::upstream {
namespace {
const char* socket_error_text(int err) {
    switch (err) {
    case 0:
    case EPIPE:
        return "connection closed by peer";
    case ECONNRESET:
        return "connection reset by peer";
    case ECONNREFUSED:
        return "connection refused";
    case EHOSTUNREACH:
    case ENETUNREACH:
        return "unreachable";
    default:
        return nullptr;
    }
}

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

bool retryable(int status) {
    return status == ARES_ETIMEOUT || status == ARES_ECONNREFUSED || status == ARES_EBADRESP;
}

std::optional<std::pair<std::string, std::uint16_t>> question_of(const wire::Message& m) {
    if (m.question.size() != 1) {
        return std::nullopt;
    }
    return std::pair{m.question[0].qname.to_gateway_text(), m.question[0].qtype};
}

unsigned param_uint(const util::Url& url, const char* key, unsigned fallback) {
    const std::string v = url.param(key);
    unsigned out = 0;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
    return (v.empty() || ec != std::errc{} || p != v.data() + v.size()) ? fallback : out;
}
// `source=ADDR`: send from this local address (what `kdig -b` does), so a probe can stand in
// for a client of a given network. hook_socket binds every socket of the channel to it:
// c-ares's own ares_set_local_ip4 is not applied to sockets opened through socket functions.
Result<std::optional<SourceAddress>> source_address(const util::Url& url) {
    const std::string src = url.param("source");
    if (src.empty()) {
        return std::optional<SourceAddress>{};
    }
    const bool server_v6 = util::is_ipv6_literal(url.host);
    SourceAddress a{};
    auto* v4 = reinterpret_cast<sockaddr_in*>(&a.addr);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&a.addr);
    if (!server_v6 && inet_pton(AF_INET, src.c_str(), &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        a.len = sizeof(sockaddr_in);
        return std::optional<SourceAddress>{a};
    }
    if (server_v6 && inet_pton(AF_INET6, src.c_str(), &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        a.len = sizeof(sockaddr_in6);
        return std::optional<SourceAddress>{a};
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
    self->timeout_ms_ = param_uint(url, "timeout", opts.timeout_ms);
    self->tries_ = std::max(1u, param_uint(url, "tries", opts.tries));
    self->keep_tc_ = url.param("tc") == "keep";
    o.timeout = static_cast<int>(self->timeout_ms_);
    o.tries = 1; // one try per ares_send: we resend (submit) without c-ares's doubling
    o.sock_state_cb = &Do53Client::on_socket_state;
    o.sock_state_cb_data = self.get();
    ares_channel ch = nullptr;
    if (int rc = ares_init_options(&ch, &o, mask); rc != ARES_SUCCESS) {
        return fail(Errc::Internal, std::string("ares_init_options: ") + ares_strerror(rc));
    }
    self->channel_.reset(ch);
    // Static, so it outlives the channel; user_data is this client.
    static const ares_socket_functions kHooks{&Do53Client::hook_socket, &Do53Client::hook_close,
                                              &Do53Client::hook_connect, &Do53Client::hook_recvfrom,
                                              &Do53Client::hook_sendv};
    ares_set_socket_functions(ch, &kHooks, self.get());
    const std::string csv = (util::is_ipv6_literal(url.host) ? "[" + url.host + "]" : url.host) +
                            ":" + std::to_string(url.port_or(53));
    if (int rc = ares_set_servers_ports_csv(ch, csv.c_str()); rc != ARES_SUCCESS) {
        return fail(Errc::ConfigInvalid, url.to_string() + ": " + ares_strerror(rc));
    }
    auto source = source_address(url);
    if (!source) {
        return source.error();
    }
    self->source_ = *source;
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
    auto p = std::make_unique<Pending>();
    p->self = this;
    p->done = std::move(done);
    if (auto m = wire::parse(query)) {
        p->id = m.message->id;
        p->question = question_of(*m.message);
    }
    p->query = std::move(query);
    submit(std::move(p));
}

void Do53Client::submit(std::unique_ptr<Pending> p) {
    p->sent = std::chrono::steady_clock::now();
    p->error_seq = error_seq_;
    pending_.emplace(p->id, p.get());
    Pending* raw = p.release(); // adopted again in on_answer, which c-ares calls exactly once
    ares_send(channel_.get(), raw->query.data(), static_cast<int>(raw->query.size()),
              &Do53Client::on_answer, raw);
    if (!shut_down_) {
        rearm_timer();
    }
}

void Do53Client::forget(const Pending* p) {
    auto [b, e] = pending_.equal_range(p->id);
    for (auto it = b; it != e; ++it) {
        if (it->second == p) {
            pending_.erase(it);
            return;
        }
    }
}

Error Do53Client::describe(int status, const Pending& p) const {
    std::string base;
    Errc code = Errc::UpstreamFailure;
    if (status == ARES_ETIMEOUT) {
        code = Errc::UpstreamTimeout;
        base = server_ + " timed out (" + std::to_string(p.attempt) + " tries of " +
               std::to_string(timeout_ms_) + " ms)";
    } else if (last_error_.seq > p.error_seq && socket_error_text(last_error_.err) != nullptr &&
               status == ARES_ECONNREFUSED) {
        // c-ares reports any broken connection as ECONNREFUSED; the socket knows better.
        base = server_ + (last_error_.tcp ? " (tcp) " : " ") + socket_error_text(last_error_.err);
    } else {
        base = to_error(status, server_).detail;
    }
    if (p.wrong_ids > 0) {
        return fail(Errc::UpstreamFailure, "answer with wrong ID from " + server_ + " (" +
                                               std::to_string(p.wrong_ids) + " ignored); then " +
                                               base);
    }
    if (!p.malformed.empty()) {
        return fail(Errc::UpstreamFailure,
                    "malformed answer from " + server_ + " (" + p.malformed + "); then " + base);
    }
    if (p.truncated_udp) {
        return fail(Errc::UpstreamFailure,
                    "truncated answer (TC) from " + server_ + "; the TCP retry failed: " + base);
    }
    return fail(code, base);
}

void Do53Client::on_answer(void* arg, int status, int /*timeouts*/, unsigned char* abuf, int alen) {
    std::unique_ptr<Pending> p(static_cast<Pending*>(arg));
    Do53Client* self = p->self;
    self->forget(p.get());
    if (status != ARES_SUCCESS) {
        if (retryable(status) && p->attempt < self->tries_ && !self->shut_down_) {
            ++p->attempt;
            self->submit(std::move(p));
            return;
        }
        auto done = std::move(p->done);
        done(self->describe(status, *p));
        return;
    }
    Exchange ex;
    ex.wire.assign(abuf, abuf + alen);
    ex.server = self->server_;
    ex.query_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - p->sent)
            .count();
    auto done = std::move(p->done);
    done(std::move(ex));
}

bool Do53Client::is_tcp(ares_socket_t fd) const {
    auto it = socket_types_.find(fd);
    return it != socket_types_.end() && it->second == SOCK_STREAM;
}

void Do53Client::note_socket_error(ares_socket_t fd, int err) {
    last_error_ = SocketError{++error_seq_, err, is_tcp(fd)};
}

void Do53Client::inspect_datagram(std::span<const std::uint8_t> datagram) {
    if (datagram.size() < 12) {
        ++stray_;
        return;
    }
    const auto id = static_cast<std::uint16_t>((datagram[0] << 8) | datagram[1]);
    auto parsed = wire::parse(datagram);
    auto [b, e] = pending_.equal_range(id);
    if (b != e) {
        for (auto it = b; it != e; ++it) {
            if (!parsed) {
                it->second->malformed = parsed.failure.reason;
            } else if (parsed.message->flag(wire::kFlagTc) && !keep_tc_) {
                it->second->truncated_udp = true;
            }
        }
        return;
    }
    // No query with this ID: a late answer of a query that timed out, or a spoofed or
    // broken one. c-ares drops it; a query waiting for the same question is told.
    const auto q = parsed ? question_of(*parsed.message) : std::nullopt;
    bool matched = false;
    for (auto& [pid, p] : pending_) {
        if (q && p->question == q) {
            ++p->wrong_ids;
            matched = true;
        }
    }
    if (!matched) {
        ++stray_;
    }
}

// --- the socket functions (ares_set_socket_functions) ------------------------------------
// c-ares leaves sockets it did not open alone (no O_NONBLOCK, no TCP_NODELAY): set here.

ares_socket_t Do53Client::hook_socket(int domain, int type, int protocol, void* user) {
    auto* self = static_cast<Do53Client*>(user);
    const int fd = ::socket(domain, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
    if (fd < 0) {
        return ARES_SOCKET_BAD;
    }
    if (self->source_ && ::bind(fd, reinterpret_cast<const sockaddr*>(&self->source_->addr),
                                self->source_->len) != 0) {
        const int err = errno;
        ::close(fd);
        errno = err;
        return ARES_SOCKET_BAD;
    }
    if (type == SOCK_STREAM) {
        const int one = 1; // single queries: no Nagle delay (as c-ares does for its own)
        (void)::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    self->socket_types_[fd] = type;
    return fd;
}

int Do53Client::hook_close(ares_socket_t fd, void* user) {
    static_cast<Do53Client*>(user)->socket_types_.erase(fd);
    return ::close(fd);
}

int Do53Client::hook_connect(ares_socket_t fd, const struct sockaddr* sa, ares_socklen_t len,
                             void* user) {
    const int rc = ::connect(fd, sa, len);
    if (rc != 0 && errno != EINPROGRESS) {
        const int err = errno;
        static_cast<Do53Client*>(user)->note_socket_error(fd, err);
        errno = err;
    }
    return rc;
}

ares_ssize_t Do53Client::hook_recvfrom(ares_socket_t fd, void* buf, size_t len, int flags,
                                       struct sockaddr* from, ares_socklen_t* from_len,
                                       void* user) {
    auto* self = static_cast<Do53Client*>(user);
    const ssize_t n = ::recvfrom(fd, buf, len, flags, from, from_len);
    const int err = errno;
    if (n < 0 && err != EAGAIN && err != EWOULDBLOCK && err != EINTR) {
        self->note_socket_error(fd, err);
    } else if (n == 0 && self->is_tcp(fd)) {
        self->note_socket_error(fd, 0);
    } else if (n > 0 && !self->is_tcp(fd)) {
        self->inspect_datagram(
            {static_cast<const std::uint8_t*>(buf), static_cast<std::size_t>(n)});
    }
    errno = err; // c-ares reads errno after the call
    return n;
}

ares_ssize_t Do53Client::hook_sendv(ares_socket_t fd, const struct iovec* iov, int n, void* user) {
    msghdr m{};
    m.msg_iov = const_cast<iovec*>(iov); // sendmsg does not write through it
    m.msg_iovlen = static_cast<std::size_t>(n);
    // MSG_NOSIGNAL: a reset connection is an error value, not SIGPIPE.
    const ssize_t r = ::sendmsg(fd, &m, MSG_NOSIGNAL);
    const int err = errno;
    if (r < 0 && err != EAGAIN && err != EWOULDBLOCK && err != EINTR) {
        static_cast<Do53Client*>(user)->note_socket_error(fd, err);
    }
    errno = err;
    return r;
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
