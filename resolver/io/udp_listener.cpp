// SPDX-License-Identifier: MIT
#include "resolver/io/udp_listener.hpp"

#include <ifaddrs.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <memory>
#include <span>

#include "resolver/io/send_socket.hpp"
#include "resolver/io/sockaddr.hpp"
#include "resolver/util/c_handles.hpp"

namespace resolver::io {
namespace {

/// An address reduced for comparison: IPv4 (also from an IPv4-mapped IPv6 address) or IPv6.
struct Addr {
    bool v4 = false;
    std::array<std::uint8_t, 16> bytes{};
    std::uint16_t port = 0;
    bool valid = false;

    [[nodiscard]] bool wildcard() const {
        const std::size_t n = v4 ? 4 : 16;
        for (std::size_t i = 0; i < n; ++i) {
            if (bytes[i] != 0) {
                return false;
            }
        }
        return true;
    }
    [[nodiscard]] bool loopback() const {
        if (v4) {
            return bytes[0] == 127; // 127.0.0.0/8, RFC 1122 §3.2.1.3
        }
        static constexpr std::array<std::uint8_t, 16> kOne{0, 0, 0, 0, 0, 0, 0, 0,
                                                           0, 0, 0, 0, 0, 0, 0, 1};
        return bytes == kOne;
    }
    [[nodiscard]] bool same_host(const Addr& o) const {
        return valid && o.valid && v4 == o.v4 &&
               std::memcmp(bytes.data(), o.bytes.data(), v4 ? 4 : 16) == 0;
    }
};

Addr reduce(const sockaddr* sa) {
    Addr a;
    if (sa == nullptr) {
        return a;
    }
    if (sa->sa_family == AF_INET) {
        const auto* in = reinterpret_cast<const sockaddr_in*>(sa);
        a.v4 = true;
        std::memcpy(a.bytes.data(), &in->sin_addr, 4);
        a.port = ntohs(in->sin_port);
        a.valid = true;
    } else if (sa->sa_family == AF_INET6) {
        const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
        if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
            a.v4 = true;
            std::memcpy(a.bytes.data(), &in6->sin6_addr.s6_addr[12], 4);
        } else {
            std::memcpy(a.bytes.data(), &in6->sin6_addr, 16);
        }
        a.port = ntohs(in6->sin6_port);
        a.valid = true;
    }
    return a;
}

/// The host's interface addresses, for a listener bound to a wildcard address.
std::vector<sockaddr_storage> interface_addresses() {
    std::vector<sockaddr_storage> out;
    ifaddrs* list = nullptr;
    if (getifaddrs(&list) != 0) {
        return out;
    }
    for (const ifaddrs* i = list; i != nullptr; i = i->ifa_next) {
        if (i->ifa_addr == nullptr ||
            (i->ifa_addr->sa_family != AF_INET && i->ifa_addr->sa_family != AF_INET6)) {
            continue;
        }
        sockaddr_storage ss{};
        std::memcpy(&ss, i->ifa_addr,
                    i->ifa_addr->sa_family == AF_INET6 ? sizeof(sockaddr_in6)
                                                       : sizeof(sockaddr_in));
        out.push_back(ss);
    }
    freeifaddrs(list);
    return out;
}

constexpr std::size_t kHeaderSize = 12; // RFC 1035 §4.1.1

/// A client's socket address, IPv4 or IPv6 (28 bytes instead of sockaddr_storage's 128, so
/// that a pending reply's capture stays small).
union Peer {
    sockaddr sa;
    sockaddr_in v4;
    sockaddr_in6 v6;

    [[nodiscard]] socklen_t length() const noexcept {
        return sa.sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
    }
};

class UdpListenerImpl final : public UdpListener {
public:
    UdpListenerImpl(QueryHandler& handler, UdpOptions options)
        : handler_(handler), options_(options) {}

    Status start(uv_loop_t* loop, const util::Url& url) {
        auto addr = to_sockaddr(url.host, url.port_or(53));
        if (!addr) {
            return fail(Errc::ConfigInvalid,
                        "listener " + url.to_string() + ": " + addr.error().detail);
        }
        // recvmmsg(2): one system call takes up to kBatch queued queries (libuv splits the
        // buffer from on_alloc into 64 KiB slots and calls on_recv once per datagram).
        // With reuse_port the socket is created now (its family named), so that SO_REUSEPORT
        // can be set before uv_udp_bind: libuv 1.44's UV_UDP_REUSEADDR is SO_REUSEADDR on Linux.
        const bool reuse = options_.reuse_port != ReusePort::Off;
        const unsigned family = reuse ? addr->ss_family : AF_UNSPEC;
        auto h = util::UvHandle<uv_udp_t>::create(
            [&](uv_udp_t* u) { return uv_udp_init_ex(loop, u, family | UV_UDP_RECVMMSG); });
        if (!h) {
            return h.error();
        }
        udp_ = std::move(h).value();
        udp_.get()->data = this;
        auto set_reuse_port = [&]() -> Status {
            if (!reuse_port_on()) {
                return fail(Errc::ConfigInvalid,
                            "listener " + url.to_string() +
                                ": cannot set SO_REUSEPORT: " + std::strerror(errno));
            }
            return ok();
        };
        if (options_.reuse_port == ReusePort::BeforeBind) {
            if (auto st = set_reuse_port(); !st) {
                return st;
            }
        }
        const unsigned flags = addr->ss_family == AF_INET6 ? UV_UDP_IPV6ONLY : 0;
        if (int rc = uv_udp_bind(udp_.get(), reinterpret_cast<const sockaddr*>(&*addr), flags);
            rc != 0) {
            return fail(Errc::ConfigInvalid,
                        "listener " + url.to_string() + ": cannot bind: " + uv_strerror(rc));
        }
        if (options_.reuse_port == ReusePort::AfterBind) {
            if (auto st = set_reuse_port(); !st) {
                return st;
            }
        }
        sockaddr_storage bound{};
        int len = sizeof bound;
        uv_udp_getsockname(udp_.get(), reinterpret_cast<sockaddr*>(&bound), &len);
        local_ = to_endpoint(reinterpret_cast<const sockaddr*>(&bound));
        local_addr_ = bound;
        if (reduce(reinterpret_cast<const sockaddr*>(&bound)).wildcard()) {
            // The kernel picks each answer's source address: answers leave from this socket.
            host_addresses_ = interface_addresses();
        } else if (auto st = open_sender(loop, bound, static_cast<socklen_t>(len)); !st) {
            return st;
        }
        url_ = "udp://" + endpoint_text(local_);
        listener_name_ = url_;
        size_receive_buffer();
        if (int rc = uv_udp_recv_start(udp_.get(), &UdpListenerImpl::on_alloc,
                                       &UdpListenerImpl::on_recv);
            rc != 0) {
            return fail(Errc::Internal, "listener " + url_ + ": " + uv_strerror(rc));
        }
        // Answers produced while one batch of datagrams is handled (cache hits, local answers)
        // wait in the outbox and leave in one sendmmsg(2) call. The check handle flushes at the
        // end of every loop turn in case libuv's read loop stops before the socket is drained.
        auto c = util::UvHandle<uv_check_t>::create(
            [&](uv_check_t* ch) { return uv_check_init(loop, ch); });
        if (!c) {
            return c.error();
        }
        flush_check_ = std::move(c).value();
        flush_check_.get()->data = this;
        uv_unref(reinterpret_cast<uv_handle_t*>(flush_check_.get()));
        return ok();
    }

    [[nodiscard]] std::string url() const override { return url_; }
    void stop() override {
        if (!stopped_) {
            read_sender(); // counted in the stop summary
        }
        if (sender_reader_) {
            uv_timer_stop(sender_reader_.get());
        }
        if (udp_) {
            uv_udp_recv_stop(udp_.get());
        }
        stopped_ = true;
    }
    [[nodiscard]] std::size_t active() const override { return state_->in_flight; }
    [[nodiscard]] const UdpCounters& udp_counters() const override { return counters_; }
    [[nodiscard]] std::size_t receive_buffer() const override { return receive_buffer_; }
    [[nodiscard]] const std::string& sender_problem() const override { return sender_problem_; }
    ~UdpListenerImpl() override { state_->listener = nullptr; }

private:
    struct SendReq {
        uv_udp_send_t req;
        std::vector<std::uint8_t> bytes;
    };

    /// Sets SO_REUSEPORT on the listening socket; false with errno set.
    bool reuse_port_on() {
        uv_os_fd_t fd = -1;
        const int one = 1;
        return uv_fileno(reinterpret_cast<uv_handle_t*>(udp_.get()), &fd) == 0 &&
               ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) == 0;
    }

    /// Answers leave from a SendSocket (see there why). It shares the port through
    /// SO_REUSEPORT, set after bind here too (as for a first worker): the bind in start()
    /// still fails when another socket holds the port. A lone listener seals it at once; a
    /// worker's waits for seal_sender(), or for its loop's first turn, which also reads what
    /// reached the socket before it was sealed. Without one (`sender_problem_` says why)
    /// answers leave from the listening socket.
    Status open_sender(uv_loop_t* loop, const sockaddr_storage& bound, socklen_t length) {
        if (options_.reuse_port == ReusePort::Off && !reuse_port_on()) {
            sender_problem_ = std::string("SO_REUSEPORT: ") + std::strerror(errno);
            return ok();
        }
        auto s = SendSocket::open(reinterpret_cast<const sockaddr*>(&bound), length);
        if (!s) {
            sender_problem_ = s.error().detail;
            return ok();
        }
        sender_ = std::move(s).value();
        if (options_.reuse_port == ReusePort::Off) {
            seal_sender();
        }
        auto t = util::UvHandle<uv_timer_t>::create(
            [&](uv_timer_t* h) { return uv_timer_init(loop, h); });
        if (!t) {
            return t.error();
        }
        // At the first turn, then every second: once sealed, only a datagram "from" the
        // listener's own endpoint reaches the sender (spoofed: a loop), and it is dropped and
        // counted as the listening socket would.
        sender_reader_ = std::move(t).value();
        sender_reader_.get()->data = this;
        uv_timer_start(
            sender_reader_.get(),
            [](uv_timer_t* h) {
                auto* self = static_cast<UdpListenerImpl*>(h->data);
                self->seal_sender();
                self->read_sender();
            },
            0, 1000);
        uv_unref(reinterpret_cast<uv_handle_t*>(sender_reader_.get()));
        return ok();
    }

    void seal_sender() override {
        if (!sender_ || sender_.sealed()) {
            return;
        }
        if (auto st = sender_.seal(); !st) {
            sender_problem_ = st.error().detail; // read_sender() still reads it, then closes it
        }
    }

    /// Hands on the datagrams that reached the SendSocket, as if this socket had read them:
    /// queries from before it was sealed, and after that only datagrams from our own
    /// endpoint (dropped and counted). Closes a SendSocket that could not be sealed.
    void read_sender() {
        if (!sender_) {
            return;
        }
        sockaddr_storage from{};
        for (;;) {
            socklen_t from_length = sizeof from;
            const ssize_t n =
                ::recvfrom(sender_.fd(), buffer_.data(), kSlot, MSG_DONTWAIT | MSG_TRUNC,
                           reinterpret_cast<sockaddr*>(&from), &from_length);
            if (n < 0) {
                if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                    ++counters_.read_errors;
                }
                if (errno == EINTR) {
                    continue;
                }
                break;
            }
            const auto size = static_cast<std::size_t>(n);
            receive({buffer_.data(), std::min(size, kSlot)}, reinterpret_cast<sockaddr*>(&from),
                    size > kSlot);
        }
        if (!sender_.sealed()) {
            sender_ = SendSocket{};
        }
    }

    /// Asks for options_.receive_buffer_bytes; what the kernel granted is read back (it caps
    /// the request at net.core.rmem_max; the server reports both at start-up).
    void size_receive_buffer() {
        auto* handle = reinterpret_cast<uv_handle_t*>(udp_.get());
        if (options_.receive_buffer_bytes > 0) {
            int want = static_cast<int>(
                std::min<std::size_t>(options_.receive_buffer_bytes, INT32_MAX / 2));
            (void)uv_recv_buffer_size(handle, &want); // a refusal leaves the default: read below
        }
        int got = 0; // 0: read, do not set
        receive_buffer_ =
            uv_recv_buffer_size(handle, &got) == 0 && got > 0 ? static_cast<std::size_t>(got) : 0;
    }

    static void on_alloc(uv_handle_t* h, std::size_t, uv_buf_t* buf) {
        auto* self = static_cast<UdpListenerImpl*>(h->data);
        buf->base = reinterpret_cast<char*>(self->buffer_.data());
        buf->len = self->buffer_.size();
    }

    static void on_recv(uv_udp_t* h, ssize_t nread, const uv_buf_t* buf, const sockaddr* from,
                        unsigned flags) {
        auto* self = static_cast<UdpListenerImpl*>(h->data);
        if (nread < 0) {
            ++self->counters_.read_errors;
        }
        if (from == nullptr) {
            self->flush(); // end of a recvmmsg batch, or the socket is drained
            return;
        }
        if (nread < 0) {
            return;
        }
        self->batching_ = true;
        self->receive(
            {reinterpret_cast<const std::uint8_t*>(buf->base), static_cast<std::size_t>(nread)},
            from, (flags & UV_UDP_PARTIAL) != 0);
    }

    /// One datagram read from the socket (`partial`: larger than the slot it was read into).
    void receive(std::span<const std::uint8_t> datagram, const sockaddr* from, bool partial) {
        if (stopped_) {
            return;
        }
        ++counters_.received;
        // Everything up to the handler's vector is read in place in the receive buffer: a
        // burst of garbage costs a comparison per datagram, no allocation and no log line.
        if (partial) {
            ++counters_.oversized; // larger than 64 KiB: cannot be a DNS message
            return;
        }
        if (datagram.size() < kHeaderSize) {
            ++counters_.short_header; // nothing to answer: not even an ID
            return;
        }
        if (is_own_endpoint(from, local_addr_, host_addresses_)) {
            ++counters_.own_address; // our answer would come back to us: a loop
            return;
        }
        dispatch(datagram, from);
    }

    void dispatch(std::span<const std::uint8_t> datagram, const sockaddr* from) {
        // The datagram is read in place in the receive buffer (handle() reads it during the
        // call only); the endpoint stays binary; the URL is shared: no allocation here.
        TransportInfo info;
        info.protocol = net::Transport::Udp;
        info.src = to_endpoint(from);
        info.dst = local_;
        info.listener = listener_name_;
        info.datagram = true;
        Peer peer{};
        std::memcpy(&peer, from,
                    from->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in));
        ++state_->in_flight;
        // Captures fit ReplyFn's inline room: the reply costs no allocation either.
        handler_.handle(datagram, std::move(info), [state = state_, peer](Reply r) {
            --state->in_flight;
            if (state->listener == nullptr || r.dropped || r.wire.empty()) {
                return;
            }
            state->listener->send(peer, std::move(r.wire));
        });
    }

    void send(const Peer& peer, std::vector<std::uint8_t> bytes) {
        if (!udp_) {
            return;
        }
        if (batching_) {
            outbox_.push_back(Outgoing{peer, std::move(bytes)});
            if (outbox_.size() == 1) {
                uv_check_start(flush_check_.get(), [](uv_check_t* c) {
                    static_cast<UdpListenerImpl*>(c->data)->flush();
                });
            }
            if (outbox_.size() >= kBatch) {
                flush();
            }
            return;
        }
        send_now(peer, std::move(bytes));
    }

    /// Sends everything in the outbox: one sendmmsg(2) per kBatch answers; what the kernel
    /// does not take at once goes the ordinary (queued) way.
    void flush() {
        batching_ = false;
        if (flush_check_) {
            uv_check_stop(flush_check_.get());
        }
        if (outbox_.empty() || !udp_) {
            outbox_.clear();
            return;
        }
        uv_os_fd_t fd = sender_.sealed() ? sender_.fd() : -1;
        std::size_t sent = 0;
        if (fd >= 0 || uv_fileno(reinterpret_cast<uv_handle_t*>(udp_.get()), &fd) == 0) {
            while (sent < outbox_.size()) {
                std::array<mmsghdr, kBatch> msgs{};
                std::array<iovec, kBatch> iov{};
                const std::size_t n = std::min(kBatch, outbox_.size() - sent);
                for (std::size_t i = 0; i < n; ++i) {
                    auto& o = outbox_[sent + i];
                    iov[i].iov_base = o.bytes.data();
                    iov[i].iov_len = o.bytes.size();
                    msgs[i].msg_hdr.msg_name = &o.peer;
                    msgs[i].msg_hdr.msg_namelen = o.peer.length();
                    msgs[i].msg_hdr.msg_iov = &iov[i];
                    msgs[i].msg_hdr.msg_iovlen = 1;
                }
                const int rc = ::sendmmsg(fd, msgs.data(), static_cast<unsigned>(n), MSG_DONTWAIT);
                if (rc <= 0) {
                    break; // EAGAIN or an error on the first message: fall back below
                }
                sent += static_cast<std::size_t>(rc);
            }
        }
        for (std::size_t i = 0; i < sent; ++i) {
            handler_.reclaim(std::move(outbox_[i].bytes)); // in the kernel now: memory to reuse
        }
        for (std::size_t i = sent; i < outbox_.size(); ++i) {
            send_now(outbox_[i].peer, std::move(outbox_[i].bytes));
        }
        outbox_.clear();
    }

    enum class Sent : std::uint8_t { Yes, Again, Failed };
    /// One datagram without waiting, from the SendSocket when there is one.
    Sent try_send(const Peer& peer, std::vector<std::uint8_t>& bytes) {
        if (sender_.sealed()) {
            if (::sendto(sender_.fd(), bytes.data(), bytes.size(), MSG_DONTWAIT, &peer.sa,
                         peer.length()) >= 0) {
                return Sent::Yes;
            }
            return errno == EAGAIN || errno == EWOULDBLOCK ? Sent::Again : Sent::Failed;
        }
        uv_buf_t b =
            uv_buf_init(reinterpret_cast<char*>(bytes.data()), static_cast<unsigned>(bytes.size()));
        const int rc = uv_udp_try_send(udp_.get(), &b, 1, &peer.sa);
        return rc >= 0 ? Sent::Yes : (rc == UV_EAGAIN ? Sent::Again : Sent::Failed);
    }

    void send_now(const Peer& peer, std::vector<std::uint8_t> bytes) {
        switch (try_send(peer, bytes)) {
        case Sent::Yes:
            handler_.reclaim(std::move(bytes));
            return;
        case Sent::Failed:
            return; // e.g. the peer vanished: UDP gives no delivery promise, nothing to retry
        case Sent::Again:
            break; // a full send buffer: libuv queues it and sends when there is room
        }
        auto req = std::make_unique<SendReq>();
        req->bytes = std::move(bytes);
        uv_buf_t qb = uv_buf_init(reinterpret_cast<char*>(req->bytes.data()),
                                  static_cast<unsigned>(req->bytes.size()));
        if (uv_udp_send(&req->req, udp_.get(), &qb, 1, &peer.sa,
                        [](uv_udp_send_t* r, int) { delete reinterpret_cast<SendReq*>(r); }) == 0) {
            (void)req.release(); // adopted by the send callback above
        }
    }

    struct Outgoing {
        Peer peer;
        std::vector<std::uint8_t> bytes;
    };

    QueryHandler& handler_;
    UdpOptions options_;
    UdpCounters counters_;
    std::size_t receive_buffer_ = 0;
    sockaddr_storage local_addr_{};
    std::vector<sockaddr_storage> host_addresses_; // only for a wildcard bind
    util::UvHandle<uv_udp_t> udp_;
    SendSocket sender_;          // answers leave from it once sealed; none for a wildcard bind
    std::string sender_problem_; // why there is none for a bound address
    util::UvHandle<uv_timer_t> sender_reader_;
    util::UvHandle<uv_check_t> flush_check_;
    std::vector<Outgoing> outbox_;
    bool batching_ = false;
    Endpoint local_;
    std::string url_;
    net::ListenerName listener_name_; // url_, shared with every query
    bool stopped_ = false;
    static constexpr std::size_t kBatch = 16;
    static constexpr std::size_t kSlot = 65536; // libuv's receive slot per datagram
    std::vector<std::uint8_t> buffer_ = std::vector<std::uint8_t>(kBatch * kSlot);
    /// What a pending reply needs of the listener, shared with every pending reply: the
    /// listener (null once it is gone: a reply after that sends nothing) and the count of
    /// queries handed to the handler and not answered yet.
    struct ReplyState {
        UdpListenerImpl* listener = nullptr;
        std::size_t in_flight = 0;
    };
    std::shared_ptr<ReplyState> state_ = std::make_shared<ReplyState>(ReplyState{this, 0});
};

} // namespace

bool is_own_endpoint(const sockaddr* from, const sockaddr_storage& local,
                     const std::vector<sockaddr_storage>& host_addresses) {
    const Addr f = reduce(from);
    const Addr l = reduce(reinterpret_cast<const sockaddr*>(&local));
    if (!f.valid || !l.valid || f.port != l.port) {
        return false;
    }
    if (!l.wildcard()) {
        return f.same_host(l);
    }
    if (f.loopback()) {
        return true;
    }
    for (const auto& h : host_addresses) {
        if (f.same_host(reduce(reinterpret_cast<const sockaddr*>(&h)))) {
            return true;
        }
    }
    return false;
}

Result<std::unique_ptr<UdpListener>> make_udp_listener(uv_loop_t* loop, const util::Url& url,
                                                       QueryHandler& handler,
                                                       const UdpOptions& options) {
    auto l = std::make_unique<UdpListenerImpl>(handler, options);
    if (auto st = l->start(loop, url); !st) {
        return st.error();
    }
    return std::unique_ptr<UdpListener>(std::move(l));
}

} // namespace resolver::io
