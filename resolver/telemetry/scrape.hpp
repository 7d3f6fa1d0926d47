// SPDX-License-Identifier: MIT
#pragma once
#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "resolver/net/transport.hpp"
#include "resolver/telemetry/exposition.hpp"

namespace resolver::telemetry {

inline constexpr std::size_t kTransportCount = net::kTransports.size();
/// RCODE slots: 0..23 as sent (RFC 6895 §2.3 assigns 0..23); anything above lands in "other".
inline constexpr std::size_t kRcodeSlots = 24;
inline constexpr std::size_t kDecisionCount = 11; // policy::ResolverDecision 0..10

/// Why a FORMERR was sent, as a bounded label set (the free-text reason goes to the log).
enum class FormErrReason : std::uint8_t {
    Unparseable, // the query could not be read (wire::parse failed)
    QdCount,     // readable, but QDCOUNT != 1
    Upstream,    // the upstream answered FORMERR and it was passed on
    Other,
};
inline constexpr std::array<std::string_view, 4> kFormErrReasons{"unparseable", "qdcount",
                                                                 "upstream", "other"};

/// Heterogeneous lookup, so that counting a location does not build a std::string.
struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
        return std::hash<std::string_view>{}(s);
    }
};
using CountByName = std::unordered_map<std::string, std::uint64_t, StringHash, std::equal_to<>>;

/// What one loop counts about finished client queries (MetricsObserver writes it).
struct QueryStats {
    std::array<std::array<std::uint64_t, kRcodeSlots + 1>, kTransportCount> answered{};
    std::array<std::uint64_t, kTransportCount> dropped{}; // finished without an answer
    std::array<std::uint64_t, kDecisionCount> decisions{};
    CountByName locations; // by location name; "" = no location matched
    std::array<std::uint64_t, kFormErrReasons.size()> formerr{};
    std::array<Histogram, kTransportCount> duration{};

    void merge(const QueryStats& o);
};

/// One upstream server (a member of a failover group), as MeteredUpstream counts it.
struct UpstreamStats {
    std::uint64_t queries = 0;
    std::uint64_t timeouts = 0; // Errc::UpstreamTimeout
    std::uint64_t errors = 0;   // every other failure (refused, TLS, HTTP, SERVFAIL/REFUSED)
    std::uint64_t in_flight = 0;
    Histogram duration; // successful exchanges, send to answer

    void merge(const UpstreamStats& o);
};

/// The pipeline's own counters and gauges (pipeline::Counters plus the two queue depths).
struct PipelineStats {
    std::uint64_t received = 0, answered = 0, dropped_short = 0, dropped_response = 0,
                  dropped_stage = 0, overloaded = 0, upstream_errors = 0;
    // Dropped by the UDP listeners before the pipeline (io::UdpCounters); their short
    // datagrams are in dropped_short, and all of them in received.
    std::uint64_t dropped_own_address = 0, dropped_oversized = 0;
    std::uint64_t in_flight = 0, waiting = 0;
};

/// One worker loop's share (`--workers N`): what its listeners handed it and what it did
/// with it, so that an uneven SO_REUSEPORT spread or one stuck loop shows.
struct WorkerStats {
    std::uint64_t received = 0; // messages its listeners read, garbage included
    std::uint64_t answered = 0; // client queries answered, every transport and rcode
    std::uint64_t dropped = 0;  // screened, dropped by a stage, or finished without an answer
    std::uint64_t in_flight = 0, waiting = 0;
};

struct CacheTotals {
    std::uint64_t hits = 0, misses = 0, inserts = 0, evictions = 0, expired = 0, entries = 0;
    std::uint64_t resent = 0; // hits answered with the bytes last sent (stages::ResentAnswers)
};

/// TLS and HTTP counters of the DoT/DoH listeners, by listener transport.
struct ListenerStats {
    std::array<std::uint64_t, kTransportCount> handshakes{};
    std::array<std::uint64_t, kTransportCount> handshake_failures{};
    std::map<int, std::uint64_t> http_status; // DoH responses by HTTP status
};

/// Process-wide facts about the policy in force (kept by runtime/ on the serving loop).
struct PolicyStats {
    std::uint64_t generation = 0;
    double load_seconds = 0;    // the load that produced `generation`
    std::uint64_t warnings = 0; // warnings of that load
    std::uint64_t rules = 0;    // rules in that set
    double loaded_at_unix_seconds = 0;
    std::uint64_t reloads_ok = 0, reloads_failed = 0;
};

struct DnstapStats {
    bool enabled = false;
    std::uint64_t frames = 0;     // handed to the I/O thread
    std::uint64_t queue_full = 0; // dropped: the I/O thread's queue was full
    std::uint64_t encode_failures = 0;
};

/// Everything one scrape reports, merged over every loop's sources. The registry builds it,
/// render() writes it once, so each family appears once whatever the number of loops.
struct Scrape {
    QueryStats queries;
    PipelineStats pipeline;
    std::vector<WorkerStats> workers; // by worker index (a worker's source sets its own)
    CacheTotals cache;
    std::map<std::string, UpstreamStats> upstreams; // by upstream URL
    ListenerStats listeners;
    PolicyStats policy;
    DnstapStats dnstap;
};

/// The text exposition of `s` (metric names and labels: docs/metrics.md).
std::string render(const Scrape& s, std::string_view version);

} // namespace resolver::telemetry
