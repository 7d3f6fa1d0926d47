// SPDX-License-Identifier: MIT
#include "probes/session/session.hpp"

#include <string>

namespace probes::session {

void ProbeSession::LoopDeleter::operator()(uv_loop_t* loop) const {
    // uv_loop_close fails (UV_EBUSY) while a handle is still registered; freeing the loop
    // then would leave that handle pointing at freed memory, so the loop is leaked instead
    // (the process is about to end: every driver closes its session last).
    if (uv_loop_close(loop) == 0) {
        delete loop;
    }
}

resolver::Result<std::unique_ptr<ProbeSession>>
ProbeSession::open(const resolver::upstream::UpstreamOptions& opts) {
    auto raw = std::make_unique<uv_loop_t>();
    if (int rc = uv_loop_init(raw.get()); rc != 0) {
        return resolver::fail(resolver::Errc::Internal,
                              std::string("uv_loop_init: ") + uv_strerror(rc));
    }
    std::unique_ptr<uv_loop_t, LoopDeleter> loop(raw.release());
    return std::unique_ptr<ProbeSession>(new ProbeSession(std::move(loop), opts));
}

ProbeSession::ProbeSession(std::unique_ptr<uv_loop_t, LoopDeleter> loop,
                           const resolver::upstream::UpstreamOptions& opts)
    : loop_(std::move(loop)), engine_(loop_.get(), opts), ids_(std::random_device{}()) {}

ProbeSession::~ProbeSession() {
    close();
}

std::vector<Outcome> ProbeSession::run(const std::vector<Job>& jobs, std::size_t max_in_flight) {
    return engine_.run(jobs, max_in_flight);
}

std::uint16_t ProbeSession::fresh_id() {
    return static_cast<std::uint16_t>(std::uniform_int_distribution<unsigned>(0, 0xFFFF)(ids_));
}

bool ProbeSession::close() {
    if (closed_) {
        return true;
    }
    closed_ = true;
    engine_.close(); // upstreams shut down; their close callbacks run on the loop
    uv_run(loop_.get(), UV_RUN_NOWAIT);
    if (uv_loop_close(loop_.get()) != 0) {
        // A client left a handle registered. Freeing the loop would leave it pointing at
        // freed memory, so the loop is leaked on purpose: sessions close as the process ends.
        (void)loop_.release(); // adopted by nobody
        return false;
    }
    delete loop_.release(); // closed above; the deleter would close it a second time
    return true;
}

} // namespace probes::session
