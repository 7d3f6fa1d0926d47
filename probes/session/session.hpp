// SPDX-License-Identifier: MIT
#pragma once
#include <cstdint>
#include <memory>
#include <random>
#include <vector>

#include <uv.h>

#include "probes/session/engine.hpp"
#include "resolver/core/result.hpp"
#include "resolver/upstream/upstream.hpp"

namespace probes::session {

/// The event loop and the transport clients of one probe run. Every subcommand that asks
/// questions (matrix, check, selftest, scenario, replay) opens one session, sends its jobs
/// through it and lets it close everything: the engine's upstreams first, then the loop.
///
/// Owns the `uv_loop_t` (heap-allocated, so its address stays valid for the handles on it)
/// and the Engine on that loop. Single-threaded: use it on the thread that opened it.
/// Not copyable or movable: the engine's clients point at the loop.
class ProbeSession {
public:
    /// Initialises the loop (uv_loop_init's error is returned, never ignored) and an engine
    /// whose upstreams use `opts` (timeouts, tries).
    static resolver::Result<std::unique_ptr<ProbeSession>>
    open(const resolver::upstream::UpstreamOptions& opts);

    ~ProbeSession();
    ProbeSession(const ProbeSession&) = delete;
    ProbeSession& operator=(const ProbeSession&) = delete;
    ProbeSession(ProbeSession&&) = delete;
    ProbeSession& operator=(ProbeSession&&) = delete;

    /// Sends every job concurrently (Engine::run) and returns the outcomes in job order.
    std::vector<Outcome> run(const std::vector<Job>& jobs, std::size_t max_in_flight = 64);

    /// A fresh random DNS message ID: the upstream clients put the caller's ID on the wire
    /// as is, so every query needs its own (c-ares 1.18 keeps it).
    std::uint16_t fresh_id();

    /// Shuts the upstreams down, lets their close callbacks run and closes the loop.
    /// Idempotent; run() must not be called afterwards. The destructor calls it.
    /// Returns false when a handle was still open (the loop is then left for the OS).
    bool close();

private:
    struct LoopDeleter {
        void operator()(uv_loop_t* loop) const;
    };
    explicit ProbeSession(std::unique_ptr<uv_loop_t, LoopDeleter> loop,
                          const resolver::upstream::UpstreamOptions& opts);

    std::unique_ptr<uv_loop_t, LoopDeleter> loop_; // declared first: destroyed after engine_
    Engine engine_;
    std::mt19937 ids_;
    bool closed_ = false;
};

} // namespace probes::session
