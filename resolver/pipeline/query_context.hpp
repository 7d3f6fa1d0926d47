// SPDX-License-Identifier: MIT
#pragma once
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "resolver/attribution/attribute.hpp"
#include "resolver/core/result.hpp"
#include "resolver/io/transport.hpp"
#include "resolver/policy/answer.hpp"
#include "resolver/policy/evaluate.hpp"
#include "resolver/wire/message.hpp"

namespace resolver::pipeline {

using QueryId = std::uint64_t; // ours, unique per pipeline; not the DNS message ID

/// The policy inputs in force, pinned by every query when it is decoded: a reload builds a
/// new snapshot and swaps the pointer, so a query never sees a half-built set.
struct PolicySnapshot {
    policy::PolicySetPtr set; // never null (an empty set when no policy files are given)
    policy::Behaviour behaviour;
    std::uint64_t generation = 0;      // bumped per successful load, logged as LabPolicyGeneration
    std::uint32_t account_max_ttl = 0; // [policy] max_ttl_secs; 0: no account-wide TTL cap
};
using PolicySnapshotPtr = std::shared_ptr<const PolicySnapshot>;

/// What a stage tells the pipeline to do next.
enum class Verdict : std::uint8_t {
    Continue, // go to the next stage
    Answer,   // ctx.response is final: skip to finish()
    Drop,     // send nothing (still logged)
};

/// Where the answer came from, for the log.
enum class AnswerSource : std::uint8_t { None, Local, Cache, Upstream };

/// Everything known about one client query, from the listener to the log line. Owned by
/// the Pipeline's in-flight table; stages get a reference and never keep it. The log line
/// and `explain` are renderings of this one record.
struct QueryContext {
    // Identity: set when the query arrives, never modified afterwards.
    QueryId id = 0;
    io::TransportInfo transport;
    std::chrono::steady_clock::time_point received_at;
    std::chrono::system_clock::time_point received_wall;
    std::size_t query_size = 0;
    io::ReplyFn reply;

    // decode
    std::optional<wire::Message> query;
    std::string drop_reason; // why nothing was answered, for the log
    PolicySnapshotPtr policy;
    std::string qname_text;                   // backing store for policy::QueryFacts views
    std::optional<std::string> edns_location; // EDNS 65011 payload
    std::optional<std::vector<std::int64_t>> request_categories; // EDNS 65050

    // attribution and policy
    std::optional<net::IpAddr> src_ip; // parsed once from transport.src / dst
    std::optional<net::IpAddr> dst_ip;
    attribution::LocationMatch location;
    policy::QueryFacts facts; // built once after attribution; views into this context
    std::optional<policy::Evaluation> evaluation;
    std::optional<policy::SynthesizedAnswer> synth; // a locally built answer (block, override…)
    bool resolving_target = false; // the upstream call resolves synth->pending_target
    std::string custom_resolver_address;

    // route and cache
    std::string route = "default";
    AnswerSource source = AnswerSource::None;
    std::uint32_t cache_age_s = 0;

    // upstream
    std::uint16_t upstream_id = 0; // the random ID we put on the wire
    std::string upstream_server;   // who answered, or who failed
    std::optional<Error> upstream_error;
    std::optional<wire::Message>
        upstream_answer; // upstream truth (pre post-policy), TTLs as received
    std::vector<std::uint32_t>
        upstream_ttls;                 // UpstreamRecordTTLs: one per answer RR, before any cap
    std::uint32_t applied_max_ttl = 0; // AppliedMaxTTL: the cap applied to the answer, 0 none

    // finish
    std::optional<wire::Message> response; // what the client gets
    std::vector<std::uint16_t> ede_codes;  // EDEErrors as sent
    std::size_t response_size = 0;         // bytes sent; 0 = nothing sent
    bool truncated = false;
};

using QueryContextPtr = std::unique_ptr<QueryContext>;

} // namespace resolver::pipeline
