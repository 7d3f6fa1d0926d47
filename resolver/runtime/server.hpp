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
#include "resolver/runtime/drain_poll.hpp"
#include "resolver/runtime/telemetry.hpp"
#include "resolver/runtime/worker.hpp"
#include "resolver/upstream/group.hpp"
#include "resolver/upstream/upstream.hpp"
#include "resolver/util/c_handles.hpp"

namespace resolver::runtime {

/// The composition root of one dnslab-resolver process: the main libuv loop, the workers
/// (worker 0 on the main loop, workers 1..N-1 on threads of their own: runtime/worker.hpp),
/// what they share (cache, query log, event log, telemetry, TLS context, policy snapshot),
/// plus signal handling, done once on the main loop (SIGINT/SIGTERM: every worker drains,
/// then the process stops; SIGHUP: the policy is loaded once and the snapshot posted to
/// every worker, which also re-read their fault files). Construct with start(), then run().
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
    /// The TLS server context every DoT/DoH listener of every worker shares, made once.
    Result<std::shared_ptr<const void>> tls_context(const std::string& listener);
    /// Reads every policy input into a new snapshot (off the loop on reload).
    Result<stages::PolicySnapshotPtr> load_policy(std::uint64_t generation) const;
    void reload();
    /// Re-reads every `faults=FILE` plan (upstreams and listeners) of every worker.
    void reload_faults();
    /// Puts `policy` in force on every worker.
    void install_policy(const stages::PolicySnapshotPtr& policy);
    /// One LabEvent line (log::begin_event) to the event log.
    void log_event(const std::string& json_object);
    /// At start-up, on stderr: the SO_RCVBUF the kernel granted each UDP listener, and each
    /// listener on a bound address that answers without a SendSocket (and why).
    void report_udp_listeners() const;
    void begin_stop();
    void finish_stop();

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
    std::shared_ptr<const void>
        tls_context_; // type-erased tls::ServerContext, created on first TLS listener
    std::string ca_file_;
    stages::PolicySnapshotPtr policy_; // the snapshot in force (every worker has it)
    /// Worker 0 first (it runs on loop_); destroyed last to first, so threads join first.
    std::vector<std::unique_ptr<Worker>> workers_;
    std::vector<std::string> ready_lines_;
    util::UvHandle<uv_signal_t> sigint_, sigterm_, sighup_;
    DrainPoll drain_;
    bool stopping_ = false;
    bool reloading_ = false;
    std::uint64_t policy_generation_ = 0;
};

} // namespace resolver::runtime
