// SPDX-License-Identifier: MIT
#include "resolver/io/udp_listener.hpp"

#include <array>
#include <cstring>
#include <memory>

#include "resolver/io/sockaddr.hpp"
#include "resolver/util/c_handles.hpp"

namespace resolver::io {
namespace {

class UdpListener final : public Listener {
public:
    UdpListener(QueryHandler& handler) : handler_(handler) {}

    Status start(uv_loop_t* loop, const util::Url& url) {
        auto addr = to_sockaddr(url.host, url.port_or(53));
        if (!addr) {
            return fail(Errc::ConfigInvalid, "listener " + url.to_string() + ": " + addr.error().detail);
        }
        // recvmmsg(2): one system call takes up to kBatch queued queries (libuv splits the
        // buffer from on_alloc into 64 KiB slots and calls on_recv once per datagram).
        auto h = util::UvHandle<uv_udp_t>::create(
            [&](uv_udp_t* u) { return uv_udp_init_ex(loop, u, AF_UNSPEC | UV_UDP_RECVMMSG); });
        if (!h) {
            return h.error();
        }
        udp_ = std::move(h).value();
        udp_.get()->data = this;
        const unsigned flags = addr->ss_family == AF_INET6 ? UV_UDP_IPV6ONLY : 0;
        if (int rc = uv_udp_bind(udp_.get(), reinterpret_cast<const sockaddr*>(&*addr), flags); rc != 0) {
            return fail(Errc::ConfigInvalid, "listener " + url.to_string() + ": cannot bind: " + uv_strerror(rc));
        }
        sockaddr_storage bound{};
        int len = sizeof bound;
        uv_udp_getsockname(udp_.get(), reinterpret_cast<sockaddr*>(&bound), &len);
        local_ = to_endpoint(reinterpret_cast<const sockaddr*>(&bound));
        url_ = "udp://" + endpoint_text(local_);
        if (int rc = uv_udp_recv_start(udp_.get(), &UdpListener::on_alloc, &UdpListener::on_recv); rc != 0) {
            return fail(Errc::Internal, "listener " + url_ + ": " + uv_strerror(rc));
        }
        return ok();
    }

    [[nodiscard]] std::string url() const override { return url_; }
    void stop() override {
        if (udp_) {
            uv_udp_recv_stop(udp_.get());
        }
        stopped_ = true;
    }
    [[nodiscard]] std::size_t active() const override { return *in_flight_; }
    ~UdpListener() override { *alive_ = false; }

private:
    struct SendReq {
        uv_udp_send_t req;
        std::vector<std::uint8_t> bytes;
    };

    static void on_alloc(uv_handle_t* h, std::size_t, uv_buf_t* buf) {
        auto* self = static_cast<UdpListener*>(h->data);
        buf->base = reinterpret_cast<char*>(self->buffer_.data());
        buf->len = self->buffer_.size();
    }

    static void on_recv(uv_udp_t* h, ssize_t nread, const uv_buf_t* buf, const sockaddr* from, unsigned flags) {
        auto* self = static_cast<UdpListener*>(h->data);
        if (nread <= 0 || from == nullptr || self->stopped_) {
            return; // nread 0 with from==nullptr: nothing more to read now
        }
        if ((flags & UV_UDP_PARTIAL) != 0) {
            return; // larger than 64 KiB: cannot be a DNS message
        }
        std::vector<std::uint8_t> wire(reinterpret_cast<const std::uint8_t*>(buf->base),
                                       reinterpret_cast<const std::uint8_t*>(buf->base) + nread);
        TransportInfo info;
        info.protocol = Protocol::Udp;
        info.src = to_endpoint(from);
        info.dst = self->local_;
        info.listener = self->url_;
        info.datagram = true;
        sockaddr_storage peer{};
        std::memcpy(&peer, from, from->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in));
        std::weak_ptr<bool> alive = self->alive_;
        auto in_flight = self->in_flight_;
        ++*in_flight;
        self->handler_.handle(std::move(wire), std::move(info), [self, alive, peer, in_flight](Reply r) {
            --*in_flight;
            if (alive.expired() || r.dropped || r.wire.empty()) {
                return;
            }
            self->send(peer, std::move(r.wire));
        });
    }

    void send(const sockaddr_storage& peer, std::vector<std::uint8_t> bytes) {
        if (!udp_) {
            return;
        }
        uv_buf_t b = uv_buf_init(reinterpret_cast<char*>(bytes.data()), static_cast<unsigned>(bytes.size()));
        const int rc = uv_udp_try_send(udp_.get(), &b, 1, reinterpret_cast<const sockaddr*>(&peer));
        if (rc >= 0) {
            return;
        }
        if (rc != UV_EAGAIN) {
            return; // e.g. the peer vanished: UDP gives no delivery promise, nothing to retry
        }
        auto req = std::make_unique<SendReq>();
        req->bytes = std::move(bytes);
        uv_buf_t qb = uv_buf_init(reinterpret_cast<char*>(req->bytes.data()), static_cast<unsigned>(req->bytes.size()));
        if (uv_udp_send(&req->req, udp_.get(), &qb, 1, reinterpret_cast<const sockaddr*>(&peer),
                        [](uv_udp_send_t* r, int) { delete reinterpret_cast<SendReq*>(r); }) == 0) {
            (void)req.release(); // adopted by the send callback above
        }
    }

    QueryHandler& handler_;
    util::UvHandle<uv_udp_t> udp_;
    Endpoint local_;
    std::string url_;
    bool stopped_ = false;
    static constexpr std::size_t kBatch = 16;
    std::vector<std::uint8_t> buffer_ = std::vector<std::uint8_t>(kBatch * 65536);
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
    std::shared_ptr<std::size_t> in_flight_ = std::make_shared<std::size_t>(0);
};

} // namespace

Result<ListenerPtr> make_udp_listener(uv_loop_t* loop, const util::Url& url, QueryHandler& handler) {
    auto l = std::make_unique<UdpListener>(handler);
    if (auto st = l->start(loop, url); !st) {
        return st.error();
    }
    return ListenerPtr(std::move(l));
}

} // namespace resolver::io
