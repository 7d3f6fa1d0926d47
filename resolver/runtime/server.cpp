// SPDX-License-Identifier: MIT
#include "resolver/runtime/server.hpp"

#include <cstdio>
#include <fstream>

#include "resolver/io/tcp_listener.hpp"
#include "resolver/io/udp_listener.hpp"
#include "resolver/upstream/factory.hpp"
#include "resolver/upstream/group.hpp"
#include "resolver/util/url.hpp"
#include "resolver/io/doh_listener.hpp"
#include "resolver/io/dot_listener.hpp"
#include "resolver/tls/server_context.hpp"

namespace resolver::runtime {

Result<std::unique_ptr<Server>> Server::start(const config::Config& cfg) {
    std::unique_ptr<Server> s(new Server());
    if (auto st = s->init(cfg); !st) {
        return st.error();
    }
    return s;
}

Server::~Server() {
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
}

Status Server::init(const config::Config& cfg) {
    cfg_ = cfg;
    if (int rc = uv_loop_init(&loop_); rc != 0) {
        return fail(Errc::Internal, std::string("uv_loop_init: ") + uv_strerror(rc));
    }
    loop_inited_ = true;
    if (!cfg_.log_json.empty()) {
        auto l = log::QueryLog::open(cfg_.log_json);
        if (!l) {
            return l.error();
        }
        log_ = std::move(l).value();
    }
    if (cfg_.upstream.empty()) {
        return fail(Errc::ConfigInvalid, "no upstream configured (--upstream URL or `upstream = [...]`)");
    }
    std::vector<upstream::UpstreamPtr> members;
    for (const auto& text : cfg_.upstream) {
        auto url = util::parse_url(text);
        if (!url) {
            return fail(Errc::ConfigInvalid, "upstream " + url.error().detail);
        }
        auto up = upstream::make_upstream(&loop_, *url, cfg_.upstream_options);
        if (!up) {
            return fail(Errc::ConfigInvalid, "upstream " + up.error().detail);
        }
        members.push_back(std::move(up).value());
    }
    std::string name;
    for (const auto& u : cfg_.upstream) {
        name += (name.empty() ? "" : ",") + u;
    }
    default_upstream_ = std::make_unique<upstream::UpstreamGroup>(name, std::move(members), cfg_.fail_threshold);
    cache_ = std::make_unique<cache::Cache>(cfg_.cache_size, cfg_.cache_max_ttl);
    pipeline::PipelineConfig pc;
    pc.udp_payload = cfg_.udp_payload;
    pc.cache_enabled = cfg_.cache_size > 0;
    pipeline_ = std::make_unique<pipeline::Pipeline>(pc, *default_upstream_, *cache_, log_.get());

    if (cfg_.listen.empty()) {
        return fail(Errc::ConfigInvalid, "no listener configured (--listen URL or `listen = [...]`)");
    }
    for (const auto& l : cfg_.listen) {
        if (auto st = add_listener(l); !st) {
            return st;
        }
    }
    for (const auto& l : listeners_) {
        ready_lines_.push_back(l->url());
    }
    if (!ca_file_.empty()) {
        ready_lines_.push_back("ca " + ca_file_);
    }

    auto make_signal = [&](util::UvHandle<uv_signal_t>& h, int signum, uv_signal_cb cb) -> Status {
        auto s = util::UvHandle<uv_signal_t>::create([&](uv_signal_t* sig) { return uv_signal_init(&loop_, sig); });
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
    if (auto st = make_signal(sighup_, SIGHUP, [](uv_signal_t*, int) { /* reload: policy module */ }); !st) {
        return st;
    }

    std::string ready;
    for (const auto& line : ready_lines_) {
        std::fprintf(stderr, "dnslab-resolver: listening %s\n", line.c_str());
        ready += line + "\n";
    }
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

Status Server::add_listener(const std::string& text) {
    auto url = util::parse_url(text);
    if (!url) {
        return fail(Errc::ConfigInvalid, "listener " + url.error().detail);
    }
    Result<io::ListenerPtr> l = fail(Errc::ConfigInvalid, "listener " + text + ": unsupported scheme '" + url->scheme + "'");
    if (url->scheme == "dns") {
        // UDP and TCP on the same port, as dig and kdig expect when they retry over TCP.
        // With port 0 the kernel picks the UDP port and TCP takes the same one.
        util::Url u = *url;
        u.scheme = "udp";
        auto udp = io::make_udp_listener(&loop_, u, *pipeline_);
        if (!udp) {
            return udp.error();
        }
        auto bound = util::parse_url((*udp)->url());
        u = *bound;
        u.scheme = "tcp";
        auto tcp = io::make_tcp_listener(&loop_, u, *pipeline_, cfg_.stream_limits);
        if (!tcp) {
            return fail(Errc::ConfigInvalid, tcp.error().detail + " (the TCP half of " + text + ")");
        }
        listeners_.push_back(std::move(udp).value());
        l = std::move(tcp);
    } else if (url->scheme == "udp") {
        l = io::make_udp_listener(&loop_, *url, *pipeline_);
    } else if (url->scheme == "tcp") {
        l = io::make_tcp_listener(&loop_, *url, *pipeline_, cfg_.stream_limits);
    }
    else if (url->scheme == "tls" || url->scheme == "https") {
        if (!tls_context_) {
            tls::TlsServerConfig tc;
            tc.cert_file = cfg_.tls_cert;
            tc.key_file = cfg_.tls_key;
            tc.state_dir = cfg_.state_dir.empty() ? config::default_state_dir() : cfg_.state_dir;
            tc.gateway_domain = cfg_.gateway_domain;
            auto ctx = tls::ServerContext::create(tc);
            if (!ctx) {
                return fail(Errc::ConfigInvalid, "listener " + text + ": " + ctx.error().detail);
            }
            ca_file_ = (*ctx)->ca_file();
            tls_context_ = *ctx;
        }
        auto ctx = std::static_pointer_cast<const tls::ServerContext>(tls_context_);
        if (url->scheme == "tls") {
            l = io::make_dot_listener(&loop_, *url, *pipeline_, ctx, cfg_.stream_limits);
        } else {
            io::DohLimits dl;
            dl.max_streams = cfg_.doh_max_streams;
            dl.max_header_bytes = cfg_.doh_max_header_bytes;
            dl.max_body_bytes = cfg_.doh_max_body_bytes;
            l = io::make_doh_listener(&loop_, *url, *pipeline_, ctx, cfg_.stream_limits, dl);
        }
    }
    if (!l) {
        return l.error();
    }
    listeners_.push_back(std::move(l).value());
    return ok();
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
    stop_deadline_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(cfg_.shutdown_grace_ms);
    auto t = util::UvHandle<uv_timer_t>::create([&](uv_timer_t* h) { return uv_timer_init(&loop_, h); });
    if (!t) {
        finish_stop();
        return;
    }
    drain_timer_ = std::move(t).value();
    drain_timer_.get()->data = this;
    // Poll the in-flight table: finish what is running for up to the grace period.
    uv_timer_start(drain_timer_.get(), [](uv_timer_t* h) {
        auto* self = static_cast<Server*>(h->data);
        if (self->pipeline_->in_flight() == 0 || std::chrono::steady_clock::now() >= self->stop_deadline_) {
            self->finish_stop();
        }
    }, 0, 10);
}

void Server::finish_stop() {
    drain_timer_.close();
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
    // The loop ends once the remaining handles have closed.
}

} // namespace resolver::runtime
