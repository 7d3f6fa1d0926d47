// SPDX-License-Identifier: MIT
#pragma once
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
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
#include "resolver/upstream/group.hpp"
#include "resolver/upstream/upstream.hpp"
#include "resolver/util/c_handles.hpp"

namespace resolver::runtime {

/// What every worker reads and none owns: the Server's, outliving every worker.
struct WorkerShared {
    const config::Config* cfg = nullptr;
    cache::Cache* cache = nullptr; // one for all workers (thread-safe, sharded)
    log::QueryLog* log = nullptr;  // one writer: whole lines, from every worker
    Telemetry* telemetry = nullptr;
    const core::Clock* clock = nullptr; // stateless (SystemClock)
    /// Creates (once, on the main thread) the TLS server context; null when no TLS listener.
    std::function<Result<std::shared_ptr<const void>>(const std::string& listener)> tls_context;
};

/// One event loop's share of the server: its listeners (SO_REUSEPORT sockets on the ports
/// worker 0 bound when there are several workers), its upstream clients, pipeline (with its
/// decision cache) and listener/upstream fault plans. Worker 0 runs on the server's loop (the
/// supervisor, which also handles signals and serves /metrics); workers 1..N-1 own a loop
/// each and run it on their own thread (start_thread(); joined by stop or the destructor).
///
/// Thread rules: create() and the destructor run on the main thread while the worker's loop
/// is not running; everything else on the worker's loop thread, except post() and
/// run_and_wait(), which hand a task to that thread from any other.
class Worker {
public:
    /// Binds `listen` (config listener URLs; for workers > 0 the ports worker 0 bound) on
    /// `loop` (worker 0: the server's loop, not owned) or on a loop of its own (loop null).
    static Result<std::unique_ptr<Worker>> create(unsigned index, uv_loop_t* loop,
                                                  const WorkerShared& shared,
                                                  stages::PolicySnapshotPtr policy,
                                                  const std::vector<std::string>& listen);
    ~Worker();
    Worker(const Worker&) = delete;
    Worker& operator=(const Worker&) = delete;

    /// Workers > 0: runs the loop on a new thread until close() has run on it.
    Status start_thread();
    /// Queues `task` for the worker's loop thread (uv_async). False once the worker closed.
    bool post(std::function<void()> task);
    /// post() and waits until the task has run (never called from the worker's own thread).
    /// False (the task not run) once the worker closed.
    bool run_and_wait(const std::function<void()>& task);

    // Loop thread only:
    /// Stops the listeners and drains in-flight queries until `deadline`, then finishes.
    void begin_stop(std::chrono::steady_clock::time_point deadline);
    /// Re-reads the worker's `faults=FILE` plans; what each reload did.
    std::vector<fault::LivePlans::Outcome> reload_faults() { return live_faults_.reload_all(); }
    /// Workers > 0: finishes (if not yet) and closes the wake-up handle, so the loop ends.
    void close();

    /// Set once the worker has drained and released its listeners (any thread may read).
    [[nodiscard]] bool finished() const { return finished_.load(std::memory_order_acquire); }
    [[nodiscard]] unsigned index() const { return index_; }
    [[nodiscard]] pipeline::Pipeline& pipeline() { return *pipeline_; }
    [[nodiscard]] const std::vector<io::ListenerPtr>& listeners() const { return listeners_; }
    /// For each config listener URL: the same URL with the port the kernel bound (what the
    /// other workers bind with SO_REUSEPORT).
    [[nodiscard]] const std::vector<std::string>& bound_listen() const { return bound_listen_; }
    [[nodiscard]] const std::vector<io::UdpListener*>& udp_listeners() const {
        return udp_listeners_;
    }
    /// Seals every UDP listener's SendSocket (io::SendSocket says why only once every
    /// worker's listeners are bound). Before this worker's loop runs.
    void seal_udp_senders() {
        for (auto* u : udp_listeners_) {
            u->seal_sender();
        }
    }

private:
    Worker(unsigned index, const WorkerShared& shared);
    Status init(uv_loop_t* loop, stages::PolicySnapshotPtr policy,
                const std::vector<std::string>& listen);
    Status add_listener(const std::string& url_text);
    [[nodiscard]] upstream::GroupLimits group_limits() const;
    /// Off with one worker; worker 0 sets SO_REUSEPORT after bind, the others before.
    [[nodiscard]] io::ReusePort reuse_port() const;
    Result<upstream::UpstreamPtr> make_group(const std::vector<std::string>& urls,
                                             bool prefer_fastest = false);
    [[nodiscard]] bool listeners_idle() const;
    void finish();
    void run_tasks();

    unsigned index_;
    WorkerShared shared_;
    fault::LivePlans live_faults_; // before upstream_options_, which points here
    upstream::UpstreamOptions upstream_options_;
    io::UdpOptions udp_options_;
    uv_loop_t own_loop_{};
    bool own_loop_inited_ = false;
    uv_loop_t* loop_ = nullptr;
    core::SystemRng rng_; // not thread-safe: one per worker
    upstream::UpstreamPtr default_upstream_;
    std::unique_ptr<pipeline::Pipeline> pipeline_;
    // Listener hooks: they must outlive the listeners, so they are declared before them.
    std::unique_ptr<io::ResolvingDoh> resolving_doh_;
    std::vector<std::unique_ptr<io::DohRequestHandler>> doh_decorators_;
    std::vector<std::unique_ptr<io::HandshakeGate>> handshake_gates_;
    std::vector<std::unique_ptr<io::QueryHandler>> onramp_handlers_; // ?internal=1 listeners
    std::vector<std::unique_ptr<io::ResolvingDoh>> onramp_doh_;      // ... their DoH side
    std::vector<io::ListenerPtr> listeners_;
    std::vector<io::UdpListener*> udp_listeners_; // owned by listeners_
    std::vector<std::string> bound_listen_;
    DrainPoll drain_;
    std::chrono::steady_clock::time_point stop_deadline_{};
    bool stopping_ = false;
    std::atomic<bool> finished_{false};

    // The cross-thread task queue (workers > 0).
    util::UvHandle<uv_async_t> wake_;
    std::mutex tasks_mu_;
    std::vector<std::function<void()>> tasks_; // guarded by tasks_mu_
    bool closed_ = false;                      // guarded by tasks_mu_
    std::thread thread_;                       // last: joined first
};

} // namespace resolver::runtime
