// SPDX-License-Identifier: MIT
#pragma once
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "resolver/core/clock.hpp"
#include "resolver/core/result.hpp"
#include "resolver/net/ip.hpp"
#include "resolver/net/transport.hpp"
#include "resolver/pipeline/observer.hpp"
#include "resolver/telemetry/scrape.hpp"

struct fstrm_iothr;
struct fstrm_iothr_queue;

namespace resolver::telemetry {

/// dnstap Message.Type values used here (dnstap.proto).
enum class DnstapType : std::uint8_t {
    ClientQuery = 5,
    ClientResponse = 6,
    ForwarderQuery = 7,
    ForwarderResponse = 8,
};

/// One dnstap message before encoding: what dnstap.proto's Message carries, in our terms.
/// Spans must stay valid until encode() returns.
struct DnstapEvent {
    DnstapType type = DnstapType::ClientQuery;
    std::optional<net::Transport> protocol; // none for fixture upstreams (no socket)
    std::optional<net::IpAddr> query_address;
    std::uint16_t query_port = 0;
    std::optional<net::IpAddr> response_address;
    std::uint16_t response_port = 0;
    std::optional<std::chrono::system_clock::time_point> query_time;
    std::optional<std::chrono::system_clock::time_point> response_time;
    std::span<const std::uint8_t> query_message;
    std::span<const std::uint8_t> response_message;
    std::string extra; // JSON object (docs/dnstap.md)
};

/// A protobuf-encoded `dnstap.Dnstap` frame in malloc'd memory, as fstrm_iothr_submit takes.
struct Frame {
    struct Free {
        void operator()(std::uint8_t* p) const noexcept;
    };
    std::unique_ptr<std::uint8_t, Free> data;
    std::size_t size = 0;
};

/// Encodes `e` as a Dnstap{type=MESSAGE} with `identity` and `version`. nullopt when memory
/// runs out.
std::optional<Frame> encode(const DnstapEvent& e, std::string_view identity,
                            std::string_view version);

/// The Frame Streams output: libfstrm's I/O thread and its input queues, one per loop
/// (single producer, single consumer), so writing a frame never blocks a loop: a full queue
/// refuses the frame and the caller counts the drop. `unix:PATH` connects (and reconnects
/// every second) to a Frame Streams reader such as fstrm_capture; `file:PATH` writes a file.
/// Content type "protobuf:dnstap.Dnstap". Destroying it flushes what is queued (blocks until
/// the I/O thread has finished: only at shutdown).
class DnstapWriter {
public:
    /// `spec`: unix:PATH or file:PATH. `queues`: one per loop that will submit.
    static Result<std::unique_ptr<DnstapWriter>> open(const std::string& spec,
                                                      std::size_t queues = 1);
    ~DnstapWriter();
    DnstapWriter(const DnstapWriter&) = delete;
    DnstapWriter& operator=(const DnstapWriter&) = delete;

    /// The input queue of loop `idx` (< queues). Use from that loop's thread only.
    [[nodiscard]] fstrm_iothr_queue* queue(std::size_t idx) const;
    /// Hands `f` to the I/O thread; false (and `f` freed) when the queue is full.
    bool submit(fstrm_iothr_queue* q, Frame f);
    [[nodiscard]] const std::string& spec() const { return spec_; }

private:
    DnstapWriter() = default;
    fstrm_iothr* iothr_ = nullptr;
    std::string spec_;
};

/// Writes CLIENT_QUERY / CLIENT_RESPONSE for every client query that got past the screen and
/// FORWARDER_QUERY / FORWARDER_RESPONSE for every upstream exchange, with the Gateway
/// decision, policy and location in `extra`. One per loop; counts what it sent and dropped.
class DnstapObserver final : public pipeline::QueryObserver {
public:
    /// `writer` and `clock` must outlive the observer; `queue` is this loop's input queue.
    DnstapObserver(DnstapWriter& writer, fstrm_iothr_queue* queue, const core::Clock& clock,
                   std::string identity, std::string version);

    void on_client_query(const stages::QueryContext& ctx,
                         std::span<const std::uint8_t> wire) override;
    void on_client_response(const stages::QueryContext& ctx,
                            std::span<const std::uint8_t> wire) override;
    void on_forwarder_query(const stages::QueryContext& ctx,
                            const upstream::Upstream& upstream) override;
    void on_forwarder_response(const stages::QueryContext& ctx, const upstream::Upstream& upstream,
                               const Result<upstream::Exchange>& result,
                               std::chrono::steady_clock::time_point sent_at) override;

    /// Adds this loop's counters (a MetricsRegistry source).
    void add_to(DnstapStats& s) const;

private:
    void emit(const DnstapEvent& e);

    DnstapWriter& writer_;
    fstrm_iothr_queue* queue_;
    const core::Clock& clock_;
    std::string identity_;
    std::string version_;
    std::uint64_t frames_ = 0;
    std::uint64_t queue_full_ = 0;
    std::uint64_t encode_failures_ = 0;
};

/// The `extra` JSON of a CLIENT_RESPONSE (exported for tests and docs/dnstap.md).
std::string client_response_extra(const stages::QueryContext& ctx);

} // namespace resolver::telemetry
