// SPDX-License-Identifier: MIT
#include "resolver/runtime/worker.hpp"

#include <algorithm>
#include <cstdio>
#include <future>

#include "resolver/fault/listener_faults.hpp"
#include "resolver/io/dot_listener.hpp"
#include "resolver/io/tcp_listener.hpp"
#include "resolver/net/transport.hpp"
#include "resolver/runtime/upstream_factory.hpp"
#include "resolver/tls/server_context.hpp"
#include "resolver/util/url.hpp"

namespace resolver::runtime {
namespace {

/// `text` (a config listener URL, parameters kept) with the port `bound_url` reads back.
std::string with_bound_port(const std::string& text, const std::string& bound_url) {
    auto original = util::parse_url(text);
    auto bound = util::parse_url(bound_url);
    if (!original || !bound) {
        return text;
    }
    original->port = bound->port;
    return original->to_string();
}

} // namespace

Worker::Worker(unsigned index, const WorkerShared& shared) : index_(index), shared_(shared) {}

Result<std::unique_ptr<Worker>> Worker::create(unsigned index, uv_loop_t* loop,
                                               const WorkerShared& shared,
                                               stages::PolicySnapshotPtr policy,
                                               const std::vector<std::string>& listen) {
    std::unique_ptr<Worker> w(new Worker(index, shared));
    if (auto st = w->init(loop, std::move(policy), listen); !st) {
        return st.error();
    }
    return w;
}

Worker::~Worker() {
    if (thread_.joinable()) {
        post([this] { close(); });
        thread_.join();
    }
    // The loop is not running on any thread now: its handles are closed from here.
    udp_listeners_.clear();
    listeners_.clear();
    pipeline_.reset();
    if (default_upstream_) {
        default_upstream_->shutdown();
    }
    default_upstream_.reset();
    drain_.close();
    wake_.close();
    if (own_loop_inited_) {
        // Let every close callback run so the loop can be closed cleanly.
        uv_run(&own_loop_, UV_RUN_DEFAULT);
        uv_loop_close(&own_loop_);
    }
}

Status Worker::init(uv_loop_t* loop, stages::PolicySnapshotPtr policy,
                    const std::vector<std::string>& listen) {
    const config::Config& cfg = *shared_.cfg;
    upstream_options_ = cfg.upstream_options;
    upstream_options_.live_faults = &live_faults_;
    udp_options_ = cfg.udp_options;
    udp_options_.reuse_port = reuse_port();
    if (loop == nullptr) {
        if (int rc = uv_loop_init(&own_loop_); rc != 0) {
            return fail(Errc::Internal, std::string("uv_loop_init: ") + uv_strerror(rc));
        }
        own_loop_inited_ = true;
        loop_ = &own_loop_;
        auto a = util::UvHandle<uv_async_t>::create([&](uv_async_t* h) {
            return uv_async_init(loop_, h, [](uv_async_t* async) {
                static_cast<Worker*>(async->data)->run_tasks();
            });
        });
        if (!a) {
            return a.error();
        }
        wake_ = std::move(a).value();
        wake_.get()->data = this;
    } else {
        loop_ = loop;
    }
    auto group = make_group(cfg.upstream);
    if (!group) {
        return fail(Errc::ConfigInvalid, "upstream " + group.error().detail);
    }
    default_upstream_ = std::move(group).value();
    pipeline::PipelineConfig pc;
    pc.stages.udp_payload = cfg.udp_payload;
    pc.cache_enabled = cfg.cache_size > 0;
    pc.max_waiting = cfg.max_waiting_queries;
    pc.first_query_id = (static_cast<stages::QueryId>(index_) << 56) + 1;
    pipeline_ = std::make_unique<pipeline::Pipeline>(
        pc, *default_upstream_, *shared_.cache, shared_.log,
        [this](const std::vector<std::string>& urls, bool prefer_fastest) {
            return make_group(urls, prefer_fastest);
        },
        *shared_.clock, rng_);
    pipeline_->set_policy(std::move(policy));
    for (const auto& l : listen) {
        if (auto st = add_listener(l); !st) {
            return st;
        }
    }
    // Worker 0's cache counters stand for the shared cache; the others add none of it.
    return shared_.telemetry->attach(index_, loop_, *pipeline_,
                                     index_ == 0 ? shared_.cache : nullptr, listeners_,
                                     [this](const std::function<void()>& fn) {
                                         if (index_ == 0) {
                                             fn();
                                         } else {
                                             (void)run_and_wait(fn);
                                         }
                                     });
}

io::ReusePort Worker::reuse_port() const {
    if (shared_.cfg->workers <= 1) {
        return io::ReusePort::Off;
    }
    return index_ == 0 ? io::ReusePort::AfterBind : io::ReusePort::BeforeBind;
}

upstream::GroupLimits Worker::group_limits() const {
    upstream::GroupLimits g;
    g.fail_threshold = shared_.cfg->fail_threshold;
    g.max_in_flight = shared_.cfg->max_in_flight_per_upstream;
    return g;
}

Result<upstream::UpstreamPtr> Worker::make_group(const std::vector<std::string>& urls,
                                                 bool prefer_fastest) {
    std::vector<upstream::UpstreamPtr> members;
    std::string name;
    for (const auto& text : urls) {
        auto url = util::parse_url(text);
        if (!url) {
            return url.error();
        }
        auto up = runtime::make_upstream(loop_, *url, upstream_options_);
        if (!up) {
            return up.error();
        }
        members.push_back(shared_.telemetry->meter(std::move(up).value(), index_));
        name += (name.empty() ? "" : ",") + text;
    }
    upstream::GroupLimits limits = group_limits();
    limits.prefer_fastest = prefer_fastest;
    return upstream::UpstreamPtr(
        std::make_unique<upstream::UpstreamGroup>(name, std::move(members), limits));
}

namespace {

/// The handler of a listener marked `?internal=1`: its clients are private on-ramp traffic
/// (Magic WAN, WARP Connector; developers.cloudflare.com/changelog/2025-09-11-dns-filtering-
/// for-private-network-onramps/), so their source address is also dns.src_internal_ip.
class PrivateOnRamp final : public io::QueryHandler {
public:
    explicit PrivateOnRamp(io::QueryHandler& next) : next_(next) {}
    void handle(std::span<const std::uint8_t> wire, io::TransportInfo&& info,
                io::ReplyFn reply) override {
        info.src_internal_ip = info.src.ip;
        next_.handle(wire, std::move(info), std::move(reply));
    }
    void reclaim(std::vector<std::uint8_t> sent) override { next_.reclaim(std::move(sent)); }

private:
    io::QueryHandler& next_;
};

} // namespace

Status Worker::add_listener(const std::string& text) {
    const config::Config& cfg = *shared_.cfg;
    const io::ReusePort reuse = reuse_port();
    auto url = util::parse_url(text);
    if (!url) {
        return fail(Errc::ConfigInvalid, "listener " + url.error().detail);
    }
    // internal=1 marks the listener's clients as private on-ramp traffic (dns.src_internal_ip).
    io::QueryHandler* handler = pipeline_.get();
    if (auto it = url->params.find("internal"); it != url->params.end()) {
        if (it->second != "1" && it->second != "0") {
            return fail(Errc::ConfigInvalid,
                        "listener " + text + ": internal=" + it->second + " (want 1 or 0)");
        }
        if (it->second == "1") {
            handler =
                onramp_handlers_.emplace_back(std::make_unique<PrivateOnRamp>(*pipeline_)).get();
        }
        url->params.erase(it);
    }
    // The schemes are the transports' names (net::kTransports) plus util::kSchemeDns.
    const std::optional<net::Transport> transport = net::transport_from_scheme(url->scheme);
    const bool dual = url->scheme == util::kSchemeDns;
    const bool encrypted = transport && net::row(*transport).encrypted;
    // fault=/faults= make this listener a misbehaving DoT/DoH server (fault::Site).
    std::shared_ptr<fault::LivePlan> faults;
    if (fault::LivePlan::in(url->params)) {
        if (!encrypted) {
            std::string schemes;
            for (const auto& row : net::kTransports) {
                if (row.encrypted) {
                    schemes += (schemes.empty() ? "" : " and ") + std::string(row.name) + "://";
                }
            }
            return fail(Errc::ConfigInvalid, "listener " + text +
                                                 ": fault= and faults= exist for " + schemes +
                                                 " listeners (put DNS faults on the upstream)");
        }
        auto live = fault::LivePlan::take_from(
            url->params,
            *transport == net::Transport::Tls ? fault::Site::DotListener : fault::Site::DohListener,
            "listener " + text, &live_faults_);
        if (!live) {
            return live.error();
        }
        faults = std::move(live).value();
    }
    Result<io::ListenerPtr> l = fail(
        Errc::ConfigInvalid, "listener " + text + ": unsupported scheme '" + url->scheme + "'");
    if (dual) {
        // UDP and TCP on the same port, as dig and kdig expect when they retry over TCP.
        // With port 0 the kernel picks the UDP port and TCP takes the same one; when that TCP
        // port is already taken, both are given up and another UDP port is tried.
        const bool ephemeral = url->port_or(53) == 0;
        for (int attempt = 0;; ++attempt) {
            util::Url u = *url;
            u.scheme = net::transport_name(net::Transport::Udp);
            auto udp = io::make_udp_listener(loop_, u, *handler, udp_options_);
            if (!udp) {
                return udp.error();
            }
            u = *util::parse_url((*udp)->url());
            u.scheme = net::transport_name(net::Transport::Tcp);
            auto tcp = io::make_tcp_listener(loop_, u, *handler, cfg.stream_limits, reuse);
            if (tcp) {
                udp_listeners_.push_back(udp->get());
                bound_listen_.push_back(with_bound_port(text, (*udp)->url()));
                listeners_.push_back(std::move(udp).value());
                l = std::move(tcp);
                break;
            }
            if (!ephemeral || attempt == 20) {
                return fail(Errc::ConfigInvalid,
                            tcp.error().detail + " (the TCP half of " + text + ")");
            }
        }
    } else if (transport == net::Transport::Udp) {
        auto udp = io::make_udp_listener(loop_, *url, *handler, udp_options_);
        if (!udp) {
            return udp.error();
        }
        udp_listeners_.push_back(udp->get());
        l = io::ListenerPtr(std::move(udp).value());
    } else if (transport == net::Transport::Tcp) {
        l = io::make_tcp_listener(loop_, *url, *handler, cfg.stream_limits, reuse);
    } else if (encrypted) {
        auto erased = shared_.tls_context(text);
        if (!erased) {
            return erased.error();
        }
        auto ctx = std::static_pointer_cast<const tls::ServerContext>(*erased);
        // Listener faults are decorators on the listener's hooks (fault/listener_faults.hpp).
        io::HandshakeGate* gate = nullptr;
        if (faults) {
            gate = handshake_gates_
                       .emplace_back(std::make_unique<fault::FaultyHandshakes>(faults, url->scheme))
                       .get();
        }
        if (*transport == net::Transport::Tls) {
            l = io::make_dot_listener(loop_, *url, *handler, ctx, cfg.stream_limits, gate);
        } else {
            io::DohLimits dl;
            dl.max_streams = cfg.doh_max_streams;
            dl.max_header_bytes = cfg.doh_max_header_bytes;
            dl.max_body_bytes = cfg.doh_max_body_bytes;
            if (!resolving_doh_) {
                resolving_doh_ = std::make_unique<io::ResolvingDoh>(*pipeline_);
            }
            io::DohRequestHandler* doh = resolving_doh_.get();
            if (handler != pipeline_.get()) {
                doh = onramp_doh_.emplace_back(std::make_unique<io::ResolvingDoh>(*handler)).get();
            }
            if (faults) {
                doh = doh_decorators_
                          .emplace_back(std::make_unique<fault::FaultyDohRequests>(faults, *doh))
                          .get();
            }
            l = io::make_doh_listener(loop_, *url, *doh, ctx, cfg.stream_limits, dl, gate);
        }
    }
    if (!l) {
        return l.error();
    }
    if (!dual) {
        bound_listen_.push_back(with_bound_port(text, (*l)->url()));
    }
    listeners_.push_back(std::move(l).value());
    return ok();
}

Status Worker::start_thread() {
    if (!own_loop_inited_ || thread_.joinable()) {
        return fail(Errc::Internal, "worker " + std::to_string(index_) + ": no loop to run");
    }
    try {
        thread_ = std::thread([this] { uv_run(loop_, UV_RUN_DEFAULT); });
    } catch (const std::system_error& e) {
        return fail(Errc::Internal,
                    "worker " + std::to_string(index_) + ": cannot start a thread: " + e.what());
    }
    return ok();
}

bool Worker::post(std::function<void()> task) {
    std::lock_guard<std::mutex> lock(tasks_mu_);
    if (closed_ || !wake_) {
        return false;
    }
    tasks_.push_back(std::move(task));
    // uv_async_send is the one libuv call that is safe from another thread; under the lock,
    // so close() cannot close the handle between the check above and the send.
    uv_async_send(wake_.get());
    return true;
}

bool Worker::run_and_wait(const std::function<void()>& task) {
    auto done = std::make_shared<std::promise<void>>();
    std::future<void> ran = done->get_future();
    if (!post([&task, done] {
            task();
            done->set_value();
        })) {
        return false;
    }
    // close() runs what is queued before it closes, so a posted task always runs.
    ran.wait();
    return true;
}

void Worker::run_tasks() {
    std::vector<std::function<void()>> batch;
    {
        std::lock_guard<std::mutex> lock(tasks_mu_);
        batch.swap(tasks_);
    }
    for (auto& t : batch) {
        t();
    }
}

void Worker::begin_stop(std::chrono::steady_clock::time_point deadline) {
    if (stopping_) {
        return;
    }
    stopping_ = true;
    for (auto& l : listeners_) {
        l->stop();
    }
    stop_deadline_ = deadline;
    // Poll the in-flight table: finish what is running for up to the grace period.
    const Status polling = drain_.start(loop_, [this] {
        if ((pipeline_->in_flight() == 0 && listeners_idle()) ||
            std::chrono::steady_clock::now() >= stop_deadline_) {
            finish();
        }
    });
    if (!polling) {
        finish();
    }
}

bool Worker::listeners_idle() const {
    // Stream listeners drain on stop(): each connection answers what it received (an HTTP/2
    // stream waiting for the pipeline included) and closes. Waiting for them as well as for
    // the pipeline means no answer is cut by closing a connection under it.
    return std::all_of(listeners_.begin(), listeners_.end(),
                       [](const io::ListenerPtr& l) { return l->active() == 0; });
}

void Worker::finish() {
    if (finished()) {
        return;
    }
    for (const auto* u : udp_listeners_) {
        const io::UdpCounters& c = u->udp_counters();
        std::fprintf(stderr,
                     "dnslab-resolver: %s received %llu datagrams, dropped %llu (short header "
                     "%llu, own address %llu, oversized %llu), read errors %llu\n",
                     u->url().c_str(), static_cast<unsigned long long>(c.received),
                     static_cast<unsigned long long>(c.dropped()),
                     static_cast<unsigned long long>(c.short_header),
                     static_cast<unsigned long long>(c.own_address),
                     static_cast<unsigned long long>(c.oversized),
                     static_cast<unsigned long long>(c.read_errors));
    }
    if (shared_.cfg->workers > 1) {
        const auto& c = pipeline_->counters();
        std::fprintf(stderr, "dnslab-resolver: worker %u answered %llu of %llu queries\n", index_,
                     static_cast<unsigned long long>(c.answered),
                     static_cast<unsigned long long>(c.received));
    }
    udp_listeners_.clear();
    drain_.close();
    listeners_.clear();
    if (default_upstream_) {
        default_upstream_->shutdown();
    }
    finished_.store(true, std::memory_order_release);
}

void Worker::close() {
    finish();
    std::vector<std::function<void()>> rest;
    {
        std::lock_guard<std::mutex> lock(tasks_mu_);
        closed_ = true;
        rest.swap(tasks_);
        wake_.close();
    }
    for (auto& t : rest) {
        t(); // a scrape waiting on run_and_wait() must not wait forever
    }
}

} // namespace resolver::runtime
