// SPDX-License-Identifier: MIT
#include "resolver/runtime/server.hpp"

#include <algorithm>
#include <cstdio>
#include <fstream>

#include <sys/resource.h>

#include "resolver/fault/listener_faults.hpp"
#include "resolver/io/tcp_listener.hpp"
#include "resolver/log/event_log.hpp"
#include "resolver/log/json_writer.hpp"
#include "resolver/runtime/policy_loader.hpp"
#include "resolver/io/udp_listener.hpp"
#include "resolver/runtime/upstream_factory.hpp"
#include "resolver/upstream/group.hpp"
#include "resolver/util/load_guard.hpp"
#include "resolver/util/url.hpp"
#include "resolver/io/doh_listener.hpp"
#include "resolver/io/dot_listener.hpp"
#include "resolver/tls/server_context.hpp"

namespace resolver::runtime {
namespace {

/// Raises the soft RLIMIT_NOFILE to the hard limit: each stream listener may hold
/// [tcp] max_connections sockets (1,024 by default), more than the usual soft limit of 1,024
/// for even one listener, and an accept that fails with EMFILE cannot make room by closing
/// the stalest connection. Warns when the hard limit is still below `wanted`.
void raise_fd_limit(rlim_t wanted) {
    rlimit lim{};
    if (getrlimit(RLIMIT_NOFILE, &lim) != 0) {
        return;
    }
    if (lim.rlim_cur < lim.rlim_max) {
        rlimit raised = lim;
        raised.rlim_cur = lim.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &raised) == 0) {
            lim = raised;
        }
    }
    if (lim.rlim_cur != RLIM_INFINITY && lim.rlim_cur < wanted) {
        std::fprintf(stderr,
                     "dnslab-resolver: warning: the open-file limit (%llu) is below what the "
                     "listeners may hold (%llu); raise it (ulimit -n) or lower "
                     "[tcp] max_connections\n",
                     static_cast<unsigned long long>(lim.rlim_cur),
                     static_cast<unsigned long long>(wanted));
    }
}

} // namespace

Result<std::unique_ptr<Server>> Server::start(const config::Config& cfg) {
    std::unique_ptr<Server> s(new Server());
    if (auto st = s->init(cfg); !st) {
        return st.error();
    }
    return s;
}

Server::~Server() {
    if (telemetry_) {
        telemetry_->stop(); // its HTTP listener would keep the loop below running
    }
    udp_listeners_.clear();
    listeners_.clear();
    pipeline_.reset();
    if (default_upstream_) {
        default_upstream_->shutdown();
    }
    default_upstream_.reset();
    sigint_.close();
    sigterm_.close();
    sighup_.close();
    drain_timer_.close();
    if (loop_inited_) {
        // Let every close callback run so the loop can be closed cleanly.
        uv_run(&loop_, UV_RUN_DEFAULT);
        uv_loop_close(&loop_);
    }
    if (log_) {
        log_->flush();
    }
    if (events_) {
        events_->flush();
    }
}

Status Server::init(const config::Config& cfg) {
    cfg_ = cfg;
    cfg_.upstream_options.live_faults = &live_faults_;
    if (int rc = uv_loop_init(&loop_); rc != 0) {
        return fail(Errc::Internal, std::string("uv_loop_init: ") + uv_strerror(rc));
    }
    loop_inited_ = true;
    if (cfg_.event_log.empty()) {
        events_ = log::QueryLog::to_stderr();
    } else {
        auto e = log::QueryLog::open(cfg_.event_log);
        if (!e) {
            return fail(Errc::ConfigInvalid, "event log: " + e.error().detail);
        }
        events_ = std::move(e).value();
    }
    if (!cfg_.log_json.empty()) {
        auto l = log::QueryLog::open(cfg_.log_json);
        if (!l) {
            return l.error();
        }
        log_ = std::move(l).value();
    }
    auto tel = Telemetry::create(&loop_, cfg_, clock_);
    if (!tel) {
        return tel.error();
    }
    telemetry_ = std::move(tel).value();
    if (cfg_.upstream.empty()) {
        return fail(Errc::ConfigInvalid,
                    "no upstream configured (--upstream URL or `upstream = [...]`)");
    }
    std::vector<upstream::UpstreamPtr> members;
    for (const auto& text : cfg_.upstream) {
        auto url = util::parse_url(text);
        if (!url) {
            return fail(Errc::ConfigInvalid, "upstream " + url.error().detail);
        }
        auto up = runtime::make_upstream(&loop_, *url, cfg_.upstream_options);
        if (!up) {
            return fail(Errc::ConfigInvalid, "upstream " + up.error().detail);
        }
        members.push_back(telemetry_->meter(std::move(up).value()));
    }
    std::string name;
    for (const auto& u : cfg_.upstream) {
        name += (name.empty() ? "" : ",") + u;
    }
    default_upstream_ =
        std::make_unique<upstream::UpstreamGroup>(name, std::move(members), group_limits());
    cache_ = std::make_unique<cache::Cache>(cfg_.cache_size, cfg_.cache_max_ttl);
    pipeline::PipelineConfig pc;
    pc.stages.udp_payload = cfg_.udp_payload;
    pc.cache_enabled = cfg_.cache_size > 0;
    pc.max_waiting = cfg_.max_waiting_queries;
    auto maker = [this](const std::vector<std::string>& urls) -> Result<upstream::UpstreamPtr> {
        std::vector<upstream::UpstreamPtr> ms;
        std::string group_name;
        for (const auto& u : urls) {
            auto url = util::parse_url(u);
            if (!url) {
                return url.error();
            }
            auto up = runtime::make_upstream(&loop_, *url, cfg_.upstream_options);
            if (!up) {
                return up.error();
            }
            ms.push_back(telemetry_->meter(std::move(up).value()));
            group_name += (group_name.empty() ? "" : ",") + u;
        }
        return upstream::UpstreamPtr(
            std::make_unique<upstream::UpstreamGroup>(group_name, std::move(ms), group_limits()));
    };
    pipeline_ = std::make_unique<pipeline::Pipeline>(pc, *default_upstream_, *cache_, log_.get(),
                                                     maker, clock_, rng_);
    for (int i = 0; i < 4; ++i) {
        log_instance_ = (log_instance_ << 16) | rng_.next_u16();
    }
    const auto load_start = std::chrono::steady_clock::now();
    auto snapshot = load_policy(++policy_generation_);
    if (!snapshot) {
        return snapshot.error();
    }
    telemetry_->policy_loaded(
        **snapshot,
        std::chrono::duration<double>(std::chrono::steady_clock::now() - load_start).count(),
        false);
    for (const auto& w : (*snapshot)->set->warnings) {
        std::fprintf(stderr, "dnslab-resolver: policy: %s\n", w.c_str());
    }
    pipeline_->set_policy(*snapshot);

    if (cfg_.listen.empty()) {
        return fail(Errc::ConfigInvalid,
                    "no listener configured (--listen URL or `listen = [...]`)");
    }
    for (const auto& l : cfg_.listen) {
        if (auto st = add_listener(l); !st) {
            return st;
        }
    }
    const auto streams = std::count_if(listeners_.begin(), listeners_.end(), [](const auto& l) {
        return l->url().rfind("udp://", 0) != 0;
    });
    raise_fd_limit(static_cast<rlim_t>(streams) * cfg_.stream_limits.max_connections + 256);
    for (const auto& l : listeners_) {
        ready_lines_.push_back(l->url());
    }
    if (auto st = telemetry_->attach(&loop_, *pipeline_, *cache_, listeners_); !st) {
        return st;
    }
    auto metrics_line = telemetry_->start_server();
    if (!metrics_line) {
        return metrics_line.error();
    }
    if (!metrics_line->empty()) {
        ready_lines_.push_back(*metrics_line);
    }
    if (!ca_file_.empty()) {
        ready_lines_.push_back("ca " + ca_file_);
    }

    auto make_signal = [&](util::UvHandle<uv_signal_t>& h, int signum, uv_signal_cb cb) -> Status {
        auto s = util::UvHandle<uv_signal_t>::create(
            [&](uv_signal_t* sig) { return uv_signal_init(&loop_, sig); });
        if (!s) {
            return s.error();
        }
        h = std::move(s).value();
        h.get()->data = this;
        uv_signal_start(h.get(), cb, signum);
        return ok();
    };
    auto on_stop = [](uv_signal_t* sig, int) { static_cast<Server*>(sig->data)->begin_stop(); };
    if (auto st = make_signal(sigint_, SIGINT, on_stop); !st) {
        return st;
    }
    if (auto st = make_signal(sigterm_, SIGTERM, on_stop); !st) {
        return st;
    }
    if (auto st =
            make_signal(sighup_, SIGHUP,
                        [](uv_signal_t* sig, int) { static_cast<Server*>(sig->data)->reload(); });
        !st) {
        return st;
    }

    {
        std::string ev;
        log::JsonWriter w(ev);
        log::begin_event(w, "policy-loaded", clock_.wall())
            .field("LabPolicyGeneration", policy_generation_);
        w.key("Behaviour").raw(pipeline_->policy()->behaviour.to_json());
        // What the loader skipped or ignored, so a log always says which rules were not
        // enforced.
        w.array_field("LabWarnings", pipeline_->policy()->set->warnings);
        w.field("LabSkippedRules", pipeline_->policy()->set->skipped_rules.size());
        w.end_object();
        log_event(ev);
    }
    std::string ready;
    for (const auto& line : ready_lines_) {
        std::fprintf(stderr, "dnslab-resolver: listening %s\n", line.c_str());
        ready += line + "\n";
    }
    report_receive_buffers();
    if (!cfg_.ready_file.empty()) {
        // Written to a temporary name and renamed, so a reader never sees half a file.
        const std::string tmp = cfg_.ready_file + ".tmp";
        std::ofstream f(tmp, std::ios::trunc);
        f << ready;
        f.close();
        if (!f || std::rename(tmp.c_str(), cfg_.ready_file.c_str()) != 0) {
            return fail(Errc::ConfigInvalid, "ready file '" + cfg_.ready_file + "': cannot write");
        }
    }
    return ok();
}

upstream::GroupLimits Server::group_limits() const {
    upstream::GroupLimits g;
    g.fail_threshold = cfg_.fail_threshold;
    g.max_in_flight = cfg_.max_in_flight_per_upstream;
    return g;
}

Status Server::add_listener(const std::string& text) {
    auto url = util::parse_url(text);
    if (!url) {
        return fail(Errc::ConfigInvalid, "listener " + url.error().detail);
    }
    // fault=/faults= make this listener a misbehaving DoT/DoH server (fault::Site).
    std::shared_ptr<fault::LivePlan> faults;
    if (fault::LivePlan::in(url->params)) {
        if (url->scheme != "tls" && url->scheme != "https") {
            return fail(Errc::ConfigInvalid,
                        "listener " + text +
                            ": fault= and faults= exist for tls:// and "
                            "https:// listeners (put DNS faults on the upstream)");
        }
        auto live = fault::LivePlan::take_from(
            url->params, url->scheme == "tls" ? fault::Site::DotListener : fault::Site::DohListener,
            "listener " + text, &live_faults_);
        if (!live) {
            return live.error();
        }
        faults = std::move(live).value();
    }
    Result<io::ListenerPtr> l = fail(
        Errc::ConfigInvalid, "listener " + text + ": unsupported scheme '" + url->scheme + "'");
    if (url->scheme == "dns") {
        // UDP and TCP on the same port, as dig and kdig expect when they retry over TCP.
        // With port 0 the kernel picks the UDP port and TCP takes the same one; when that TCP
        // port is already taken, both are given up and another UDP port is tried.
        const bool ephemeral = url->port_or(53) == 0;
        for (int attempt = 0;; ++attempt) {
            util::Url u = *url;
            u.scheme = "udp";
            auto udp = io::make_udp_listener(&loop_, u, *pipeline_, cfg_.udp_options);
            if (!udp) {
                return udp.error();
            }
            u = *util::parse_url((*udp)->url());
            u.scheme = "tcp";
            auto tcp = io::make_tcp_listener(&loop_, u, *pipeline_, cfg_.stream_limits);
            if (tcp) {
                udp_listeners_.push_back(udp->get());
                listeners_.push_back(std::move(udp).value());
                l = std::move(tcp);
                break;
            }
            if (!ephemeral || attempt == 20) {
                return fail(Errc::ConfigInvalid,
                            tcp.error().detail + " (the TCP half of " + text + ")");
            }
        }
    } else if (url->scheme == "udp") {
        auto udp = io::make_udp_listener(&loop_, *url, *pipeline_, cfg_.udp_options);
        if (!udp) {
            return udp.error();
        }
        udp_listeners_.push_back(udp->get());
        l = io::ListenerPtr(std::move(udp).value());
    } else if (url->scheme == "tcp") {
        l = io::make_tcp_listener(&loop_, *url, *pipeline_, cfg_.stream_limits);
    } else if (url->scheme == "tls" || url->scheme == "https") {
        if (!tls_context_) {
            tls::TlsServerConfig tc;
            tc.cert_file = cfg_.tls_cert;
            tc.key_file = cfg_.tls_key;
            tc.state_dir = cfg_.state_dir.empty() ? config::default_state_dir() : cfg_.state_dir;
            tc.gateway_domain = pipeline_->policy()->behaviour.gateway_domain;
            auto ctx = tls::ServerContext::create(tc);
            if (!ctx) {
                return fail(Errc::ConfigInvalid, "listener " + text + ": " + ctx.error().detail);
            }
            ca_file_ = (*ctx)->ca_file();
            tls_context_ = *ctx;
        }
        auto ctx = std::static_pointer_cast<const tls::ServerContext>(tls_context_);
        // Listener faults are decorators on the listener's hooks (fault/listener_faults.hpp).
        io::HandshakeGate* gate = nullptr;
        if (faults) {
            gate = handshake_gates_
                       .emplace_back(std::make_unique<fault::FaultyHandshakes>(faults, url->scheme))
                       .get();
        }
        if (url->scheme == "tls") {
            l = io::make_dot_listener(&loop_, *url, *pipeline_, ctx, cfg_.stream_limits, gate);
        } else {
            io::DohLimits dl;
            dl.max_streams = cfg_.doh_max_streams;
            dl.max_header_bytes = cfg_.doh_max_header_bytes;
            dl.max_body_bytes = cfg_.doh_max_body_bytes;
            if (!resolving_doh_) {
                resolving_doh_ = std::make_unique<io::ResolvingDoh>(*pipeline_);
            }
            io::DohRequestHandler* doh = resolving_doh_.get();
            if (faults) {
                doh = doh_decorators_
                          .emplace_back(std::make_unique<fault::FaultyDohRequests>(faults, *doh))
                          .get();
            }
            l = io::make_doh_listener(&loop_, *url, *doh, ctx, cfg_.stream_limits, dl, gate);
        }
    }
    if (!l) {
        return l.error();
    }
    listeners_.push_back(std::move(l).value());
    return ok();
}

Result<stages::PolicySnapshotPtr> Server::load_policy(std::uint64_t generation) const {
    return load_policy_snapshot(cfg_, generation, log_instance_);
}

void Server::log_event(const std::string& json_object) {
    if (events_) {
        events_->write(json_object);
    }
}

namespace {
/// One reload: built on libuv's thread pool, swapped in on the loop thread.
struct ReloadWork {
    uv_work_t req{};
    Server* server = nullptr;
    std::function<void()> work;
    std::function<void()> after;
};
} // namespace

void Server::reload_faults() {
    for (const auto& o : live_faults_.reload_all()) {
        std::string ev;
        log::JsonWriter j(ev);
        log::begin_event(j, "faults-reload", clock_.wall()).field("LabFaultOwner", o.owner);
        j.field("LabFaultFile", o.file).field("LabOk", o.error.empty());
        if (!o.error.empty()) {
            j.field("LabError", o.error);
            std::fprintf(stderr,
                         "dnslab-resolver: fault plan reload failed, keeping the old one: %s\n",
                         o.error.c_str());
        } else {
            std::fprintf(stderr, "dnslab-resolver: fault plan reloaded: %s (%s)\n", o.file.c_str(),
                         o.owner.c_str());
        }
        j.end_object();
        log_event(ev);
    }
}

void Server::reload() {
    if (stopping_) {
        return;
    }
    reload_faults(); // small files, read here so the switch is in force when kill -HUP returns soon
                     // after
    if (reloading_) {
        return; // one policy reload at a time; a second SIGHUP during one is folded into it
    }
    reloading_ = true;
    auto result = std::make_shared<std::optional<Result<stages::PolicySnapshotPtr>>>();
    const std::uint64_t gen = policy_generation_ + 1;
    auto* w = new ReloadWork();
    w->server = this;
    auto seconds = std::make_shared<double>(0);
    // Runs on libuv's thread pool, where an escaping exception would std::terminate the
    // resolver: the guard is the last resort (the loaders guard themselves), and an error
    // keeps the rules in force.
    w->work = [this, result, gen, seconds] {
        const auto start = std::chrono::steady_clock::now();
        result->emplace(util::guard_load("policy reload", [&] { return load_policy(gen); }));
        *seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    };
    w->after = [this, result, gen, seconds] {
        reloading_ = false;
        std::string ev;
        log::JsonWriter j(ev);
        log::begin_event(j, "policy-reload", clock_.wall());
        if (result->has_value() && (*result)->has_value()) {
            policy_generation_ = gen;
            pipeline_->set_policy((*result)->value());
            telemetry_->policy_loaded(*(*result)->value(), *seconds, true);
            std::fprintf(stderr, "dnslab-resolver: policy reloaded (generation %llu)\n",
                         static_cast<unsigned long long>(gen));
            j.field("LabPolicyGeneration", gen).field("LabOk", true);
            j.key("Behaviour").raw(pipeline_->policy()->behaviour.to_json());
            j.array_field("LabWarnings", pipeline_->policy()->set->warnings);
            j.field("LabSkippedRules", pipeline_->policy()->set->skipped_rules.size());
            for (const auto& w : pipeline_->policy()->set->warnings) {
                std::fprintf(stderr, "dnslab-resolver: policy: %s\n", w.c_str());
            }
        } else {
            telemetry_->policy_reload_failed();
            const std::string why =
                result->has_value() ? (*result)->error().detail : "reload did not run";
            std::fprintf(stderr,
                         "dnslab-resolver: policy reload failed, keeping generation %llu: %s\n",
                         static_cast<unsigned long long>(policy_generation_), why.c_str());
            j.field("LabPolicyGeneration", policy_generation_)
                .field("LabOk", false)
                .field("LabError", why);
        }
        j.end_object();
        log_event(ev);
    };
    w->req.data = w;
    const int rc = uv_queue_work(
        &loop_, &w->req, [](uv_work_t* r) { static_cast<ReloadWork*>(r->data)->work(); },
        [](uv_work_t* r, int) {
            std::unique_ptr<ReloadWork> done(static_cast<ReloadWork*>(r->data));
            done->after();
        });
    if (rc != 0) {
        delete w;
        reloading_ = false;
    }
}

int Server::run() {
    uv_run(&loop_, UV_RUN_DEFAULT);
    return 0;
}

void Server::begin_stop() {
    if (stopping_) {
        return;
    }
    stopping_ = true;
    std::fprintf(stderr, "dnslab-resolver: stopping (in flight: %zu)\n", pipeline_->in_flight());
    for (auto& l : listeners_) {
        l->stop();
    }
    stop_deadline_ =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(cfg_.shutdown_grace_ms);
    auto t =
        util::UvHandle<uv_timer_t>::create([&](uv_timer_t* h) { return uv_timer_init(&loop_, h); });
    if (!t) {
        finish_stop();
        return;
    }
    drain_timer_ = std::move(t).value();
    drain_timer_.get()->data = this;
    // Poll the in-flight table: finish what is running for up to the grace period.
    uv_timer_start(
        drain_timer_.get(),
        [](uv_timer_t* h) {
            auto* self = static_cast<Server*>(h->data);
            if ((self->pipeline_->in_flight() == 0 && self->listeners_idle()) ||
                std::chrono::steady_clock::now() >= self->stop_deadline_) {
                self->finish_stop();
            }
        },
        0, 10);
}

bool Server::listeners_idle() const {
    // Stream listeners drain on stop(): each connection answers what it received (an HTTP/2
    // stream waiting for the pipeline included) and closes. Waiting for them as well as for
    // the pipeline means no answer is cut by closing a connection under it.
    return std::all_of(listeners_.begin(), listeners_.end(),
                       [](const io::ListenerPtr& l) { return l->active() == 0; });
}

void Server::report_receive_buffers() const {
    const std::size_t asked = cfg_.udp_options.receive_buffer_bytes;
    for (const auto* u : udp_listeners_) {
        const std::size_t reads = u->receive_buffer();
        if (asked == 0) {
            std::fprintf(stderr, "dnslab-resolver: %s receive buffer: the kernel default (%zu)\n",
                         u->url().c_str(), reads);
            continue;
        }
        // socket(7): Linux doubles a value set with SO_RCVBUF (bookkeeping) and reads back
        // the double; it caps the request at net.core.rmem_max.
        const std::size_t granted = reads / 2;
        std::fprintf(stderr,
                     "dnslab-resolver: %s receive buffer %zu bytes granted (asked %zu; SO_RCVBUF "
                     "reads %zu)%s\n",
                     u->url().c_str(), granted, asked, reads,
                     granted < asked ? "; raise net.core.rmem_max to grant more" : "");
    }
}

void Server::report_udp_drops() const {
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
}

void Server::finish_stop() {
    report_udp_drops();
    udp_listeners_.clear();
    drain_timer_.close();
    telemetry_->stop();
    sigint_.close();
    sigterm_.close();
    sighup_.close();
    listeners_.clear();
    if (default_upstream_) {
        default_upstream_->shutdown();
    }
    if (log_) {
        log_->flush();
    }
    if (events_) {
        events_->flush();
    }
    // The loop ends once the remaining handles have closed.
}

} // namespace resolver::runtime
