// SPDX-License-Identifier: MIT
#pragma once
#include <memory>
#include <string>
#include <vector>

#include <uv.h>

#include "resolver/cache/cache.hpp"
#include "resolver/config/config.hpp"
#include "resolver/fault/live_plan.hpp"
#include "resolver/io/doh_listener.hpp"
#include "resolver/io/listener.hpp"
#include "resolver/io/tls_stream.hpp"
#include "resolver/io/udp_listener.hpp"
#include "resolver/log/query_log.hpp"
#include "resolver/pipeline/pipeline.hpp"
#include "resolver/runtime/telemetry.hpp"
#include "resolver/upstream/group.hpp"
#include "resolver/upstream/upstream.hpp"
#include "resolver/util/c_handles.hpp"

namespace resolver::runtime {

/// The composition root of one dnslab-resolver process: one libuv loop, its listeners,
/// upstreams, cache, pipeline and log, plus signal handling (SIGINT/SIGTERM: graceful stop;
/// SIGHUP: reload policy and fault files). Construct with start(), then run() until stopped.
class Server {
public:
    /// Binds every listener and writes the ready file. Errors name the listener or key.
    static Result<std::unique_ptr<Server>> start(const config::Config& cfg);
    ~Server();

    /// Runs the loop until a stop signal has been handled. Returns the exit code.
    int run();

    /// The bound listener URLs (ports resolved), plus "ca PATH" when a lab CA is in use.
    [[nodiscard]] const std::vector<std::string>& ready_lines() const { return ready_lines_; }

private:
    Server() = default;
    Status init(const config::Config& cfg);
    Status add_listener(const std::string& url_text);
    [[nodiscard]] upstream::GroupLimits group_limits() const;
    /// Reads every policy input into a new snapshot (off the loop on reload).
    Result<stages::PolicySnapshotPtr> load_policy(std::uint64_t generation) const;
    void reload();
    /// Re-reads every `faults=FILE` plan (upstreams and listeners) on the loop thread.
    void reload_faults();
    /// One LabEvent line (log::begin_event) to the event log.
    void log_event(const std::string& json_object);
    /// One stderr line per UDP listener: the SO_RCVBUF the kernel granted (at start-up).
    void report_receive_buffers() const;
    /// One stderr line per UDP listener: datagrams read and dropped by reason (at stop).
    void report_udp_drops() const;
    void begin_stop();
    [[nodiscard]] bool listeners_idle() const;
    void finish_stop();

    fault::LivePlans live_faults_; // first: cfg_.upstream_options points here
    config::Config cfg_;
    uv_loop_t loop_{};
    bool loop_inited_ = false;
    std::unique_ptr<log::QueryLog> log_;    // gateway_dns records only
    std::unique_ptr<log::QueryLog> events_; // LabEvent lines (--event-log, default stderr)
    core::SystemClock clock_;
    core::SystemRng rng_;
    std::unique_ptr<Telemetry> telemetry_; // before what it observes: destroyed after it
    std::uint64_t log_instance_ = 0;       // QueryID prefix of this process, drawn in init()
    std::unique_ptr<cache::Cache> cache_;
    upstream::UpstreamPtr default_upstream_;
    std::unique_ptr<pipeline::Pipeline> pipeline_;
    std::shared_ptr<const void>
        tls_context_; // type-erased tls::ServerContext, created on first TLS listener
    std::string ca_file_;
    // Listener hooks: they must outlive the listeners, so they are declared before them.
    std::unique_ptr<io::ResolvingDoh> resolving_doh_; // the pipeline behind DoH listeners
    std::vector<std::unique_ptr<io::DohRequestHandler>> doh_decorators_; // listener faults
    std::vector<std::unique_ptr<io::HandshakeGate>> handshake_gates_;    // listener faults
    std::vector<std::unique_ptr<io::QueryHandler>> onramp_handlers_;     // ?internal=1 listeners
    std::vector<std::unique_ptr<io::ResolvingDoh>> onramp_doh_;          // ... their DoH side
    std::vector<io::ListenerPtr> listeners_;
    std::vector<const io::UdpListener*> udp_listeners_; // owned by listeners_, for counters
    std::vector<std::string> ready_lines_;
    util::UvHandle<uv_signal_t> sigint_, sigterm_, sighup_;
    util::UvHandle<uv_timer_t> drain_timer_;
    std::chrono::steady_clock::time_point stop_deadline_{};
    bool stopping_ = false;
    bool reloading_ = false;
    std::uint64_t policy_generation_ = 0;
};

} // namespace resolver::runtime
