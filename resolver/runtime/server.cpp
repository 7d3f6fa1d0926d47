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
#include "resolver/policy/explain.hpp"
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

/// The loader warnings as a JSON array for the policy events (`LabWarningDetails`). A cut
/// value in a reason may end inside a UTF-8 sequence: replaced, never thrown.
std::string warning_details_text(const policy::PolicySet& set) {
    return policy::warning_details(set).dump(-1, ' ', false,
                                             nlohmann::json::error_handler_t::replace);
}

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
    // Threads first (each joins in its destructor), worker 0 (on loop_) last.
    while (!workers_.empty()) {
        workers_.pop_back();
    }
    sigint_.close();
    sigterm_.close();
    sighup_.close();
    drain_.close();
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
    cfg_.workers = std::max(cfg_.workers, 1U);
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
    // One worker: the cache is only ever touched on its loop (telemetry reads it there too).
    cache_ = std::make_unique<cache::Cache>(cfg_.cache_size, cfg_.cache_max_ttl, 0,
                                            cfg_.workers > 1 ? 16 : 1, cfg_.workers <= 1);
    for (int i = 0; i < 4; ++i) {
        log_instance_ = (log_instance_ << 16) | rng_.next_u16();
    }
    const auto load_start = std::chrono::steady_clock::now();
    auto snapshot = load_policy(++policy_generation_);
    if (!snapshot) {
        return snapshot.error();
    }
    policy_ = *snapshot;
    telemetry_->policy_loaded(
        *policy_,
        std::chrono::duration<double>(std::chrono::steady_clock::now() - load_start).count(),
        false);
    for (const auto& w : policy_->set->warnings) {
        std::fprintf(stderr, "dnslab-resolver: policy: %s\n", w.c_str());
    }

    if (cfg_.listen.empty()) {
        return fail(Errc::ConfigInvalid,
                    "no listener configured (--listen URL or `listen = [...]`)");
    }
    WorkerShared shared;
    shared.cfg = &cfg_;
    shared.cache = cache_.get();
    shared.log = log_.get();
    shared.telemetry = telemetry_.get();
    shared.clock = &clock_;
    shared.tls_context = [this](const std::string& l) { return tls_context(l); };
    // Worker 0 binds the configured URLs (port 0: the kernel picks); the others bind the
    // same ports with SO_REUSEPORT (socket(7)), so the kernel spreads datagrams and
    // connections over the workers' sockets.
    std::vector<std::string> listen = cfg_.listen;
    for (unsigned i = 0; i < cfg_.workers; ++i) {
        auto w = Worker::create(i, i == 0 ? &loop_ : nullptr, shared, policy_, listen);
        if (!w) {
            if (i > 0) {
                return fail(w.error().code,
                            "worker " + std::to_string(i) + ": " + w.error().detail);
            }
            return w.error();
        }
        workers_.push_back(std::move(w).value());
        if (i == 0) {
            listen = workers_.front()->bound_listen();
        }
    }
    for (const auto& w : workers_) {
        w->seal_udp_senders(); // every worker's sockets are bound now
    }
    const auto& first = workers_.front()->listeners();
    const auto streams = std::count_if(
        first.begin(), first.end(), [](const auto& l) { return l->url().rfind("udp://", 0) != 0; });
    raise_fd_limit(
        static_cast<rlim_t>(streams) * cfg_.stream_limits.max_connections * cfg_.workers + 256);
    for (const auto& l : first) {
        ready_lines_.push_back(l->url());
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
    // The worker threads start once the signals are handled here (libuv delivers a
    // process signal to the loop that watches it; the workers' loops watch none).
    for (std::size_t i = 1; i < workers_.size(); ++i) {
        if (auto st = workers_[i]->start_thread(); !st) {
            return st;
        }
    }

    {
        std::string ev;
        log::JsonWriter w(ev);
        log::begin_event(w, "policy-loaded", clock_.wall())
            .field("LabPolicyGeneration", policy_generation_);
        w.key("Behaviour").raw(policy_->behaviour.to_json());
        // What the loader skipped or ignored, so a log always says which rules were not
        // enforced.
        w.array_field("LabWarnings", policy_->set->warnings);
        w.key("LabWarningDetails").raw(warning_details_text(*policy_->set));
        w.field("LabSkippedRules", policy_->set->skipped_rules.size());
        w.end_object();
        log_event(ev);
    }
    std::string ready;
    for (const auto& line : ready_lines_) {
        std::fprintf(stderr, "dnslab-resolver: listening %s\n", line.c_str());
        ready += line + "\n";
    }
    if (cfg_.workers > 1) {
        std::fprintf(stderr,
                     "dnslab-resolver: %u workers, each with its own sockets on these ports\n",
                     cfg_.workers);
    }
    report_udp_listeners();
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

Result<std::shared_ptr<const void>> Server::tls_context(const std::string& listener) {
    if (!tls_context_) {
        tls::TlsServerConfig tc;
        tc.cert_file = cfg_.tls_cert;
        tc.key_file = cfg_.tls_key;
        tc.state_dir = cfg_.state_dir.empty() ? config::default_state_dir() : cfg_.state_dir;
        tc.gateway_domain = policy_->behaviour.gateway_domain;
        auto ctx = tls::ServerContext::create(tc);
        if (!ctx) {
            return fail(Errc::ConfigInvalid, "listener " + listener + ": " + ctx.error().detail);
        }
        ca_file_ = (*ctx)->ca_file();
        tls_context_ = *ctx;
    }
    return tls_context_;
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
    // Every worker has its own plans for the same files: worker 0's outcome is reported
    // (on this thread, as before there were workers), the others re-read theirs on their
    // own loop, where their listeners and upstreams read them.
    for (std::size_t i = 1; i < workers_.size(); ++i) {
        Worker* w = workers_[i].get();
        (void)w->post([w] { (void)w->reload_faults(); });
    }
    for (const auto& o : workers_.front()->reload_faults()) {
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

void Server::install_policy(const stages::PolicySnapshotPtr& policy) {
    policy_ = policy;
    // The snapshot is immutable: each worker takes a reference (an atomic count) and swaps
    // it into its pipeline on its own thread; queries in flight keep the one they pinned.
    for (std::size_t i = 1; i < workers_.size(); ++i) {
        Worker* w = workers_[i].get();
        (void)w->post([w, policy] { w->pipeline().set_policy(policy); });
    }
    workers_.front()->pipeline().set_policy(policy);
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
            install_policy((*result)->value());
            telemetry_->policy_loaded(*(*result)->value(), *seconds, true);
            std::fprintf(stderr, "dnslab-resolver: policy reloaded (generation %llu)\n",
                         static_cast<unsigned long long>(gen));
            j.field("LabPolicyGeneration", gen).field("LabOk", true);
            j.key("Behaviour").raw(policy_->behaviour.to_json());
            j.array_field("LabWarnings", policy_->set->warnings);
            j.key("LabWarningDetails").raw(warning_details_text(*policy_->set));
            j.field("LabSkippedRules", policy_->set->skipped_rules.size());
            for (const auto& warning : policy_->set->warnings) {
                std::fprintf(stderr, "dnslab-resolver: policy: %s\n", warning.c_str());
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
    // Every worker's queries: the others' counts are read from their published copies (each
    // pipeline belongs to its own loop thread).
    std::size_t in_flight = 0;
    for (const auto& w : workers_) {
        in_flight += w->pipeline().in_flight_published();
    }
    std::fprintf(stderr, "dnslab-resolver: stopping (in flight: %zu, %zu workers)\n", in_flight,
                 workers_.size());
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(cfg_.shutdown_grace_ms);
    for (std::size_t i = 1; i < workers_.size(); ++i) {
        Worker* w = workers_[i].get();
        (void)w->post([w, deadline] { w->begin_stop(deadline); });
    }
    workers_.front()->begin_stop(deadline);
    // Each worker drains on its own loop (for up to the grace period); the process stops
    // once every one has finished.
    const Status polling = drain_.start(&loop_, [this] {
        if (std::all_of(workers_.begin(), workers_.end(),
                        [](const auto& w) { return w->finished(); })) {
            finish_stop();
        }
    });
    if (!polling) {
        finish_stop();
    }
}

void Server::report_udp_listeners() const {
    for (const auto& w : workers_) {
        for (const auto* u : w->udp_listeners()) {
            if (!u->sender_problem().empty()) {
                std::fprintf(stderr,
                             "dnslab-resolver: %s: answers leave from the receiving socket (no "
                             "second socket to send from: %s)\n",
                             u->url().c_str(), u->sender_problem().c_str());
            }
        }
    }
    const std::size_t asked = cfg_.udp_options.receive_buffer_bytes;
    for (const auto* u : workers_.front()->udp_listeners()) {
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

void Server::finish_stop() {
    drain_.close();
    telemetry_->stop(); // no scrape waits on a worker from here on
    // Each worker thread closes its loop and is joined: every query log line it wrote is in
    // the log's buffer before the flush below.
    while (workers_.size() > 1) {
        workers_.pop_back();
    }
    sigint_.close();
    sigterm_.close();
    sighup_.close();
    if (log_) {
        log_->flush();
    }
    if (events_) {
        events_->flush();
    }
    // The loop ends once the remaining handles have closed.
}

} // namespace resolver::runtime
