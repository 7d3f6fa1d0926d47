// SPDX-License-Identifier: MIT
#pragma once
// The individual stages. Only runner.cpp calls them, in Gateway's phase order; a stage never
// calls another, it records its facts in the QueryContext and returns what comes next.
#include <cstdint>
#include <span>

#include "resolver/stages/runner.hpp"

namespace resolver::stages {

/// What a stage tells the runner.
enum class Next : std::uint8_t {
    Continue,     // go on with the next stage
    Answer,       // ctx.response is final: finish
    Drop,         // send nothing (still logged)
    NeedUpstream, // resolve ctx.synth->pending_target (the override / safe-search detour)
};

/// Parses the query and applies the protocol rules (FORMERR, NOTIMP, BADVERS, REFUSED for
/// classes we do not serve); pins nothing, reads only the bytes.
Next decode(QueryContext& ctx, std::span<const std::uint8_t> wire, const StageConfig& cfg);

/// The Gateway location from the transport hints (attribution/).
void attribute(QueryContext& ctx);

/// Pre-resolution DNS rules and resolver rules: may answer locally (block, override, safe
/// search) or ask for the override/safe-search target (Next::NeedUpstream).
Next pre_policy(QueryContext& ctx, const Environment& env);

/// Binds the route the resolver rules chose: ctx.route, the upstream URLs in Gateway's
/// order (Internal DNS view, custom resolvers public / default vnet / custom vnet, from the
/// snapshot's RouteTable), CustomResolverAddress; ctx.route_error when nothing is reachable.
void route(QueryContext& ctx);

/// The EDNS Client Subnet option (RFC 7871 §6) for `client`: its /24 (IPv4) or /56 (IPv6),
/// or `source_limit` bits when that is shorter; scope 0. `text` (optional) receives
/// "192.0.2.0/24".
std::optional<wire::EdnsOption> client_subnet_option(const net::IpAddr& client, std::string* text,
                                                     int source_limit = 128);

/// Sets ctx.client_subnet when the query's location has `ecs_support` (and the client did
/// not opt out with SOURCE PREFIX-LENGTH 0, RFC 7871 §7.1.2). A client that sent its own ECS
/// option of its address family never gets a longer prefix sent than it asked for (§7.1.1),
/// and gets an ECS option back in ctx.client_subnet_echo (§7.2.2).
void choose_client_subnet(QueryContext& ctx);

/// True when the Internal DNS view's outcome (`answer`, null when it failed) must be replaced
/// by the default upstream's: `fallback: "public_dns"` and the view failed, answered other
/// than NOERROR, or answered an A/AAAA query with CNAMEs only.
bool internal_fallback_due(const QueryContext& ctx, const wire::Message* answer);

/// Records the InternalDNS* / CustomResolve* facts of the exchange that just ended.
void note_exchange(QueryContext& ctx, const Environment& env, const wire::Message* answer);

/// A cached upstream answer for the route (Next::Answer) or a miss (Continue).
Next cache_lookup(QueryContext& ctx, const Environment& env);

/// Keeps what a cache hit sent (ctx.wire_out, after finish) in env.resent, with the cache key
/// it was read under, for the same query again (ResentAnswers::answer).
void remember_sent(QueryContext& ctx, const Environment& env, std::span<const std::uint8_t> wire);
/// Stores the fresh upstream truth before post-resolution policy sees it.
void cache_insert(QueryContext& ctx, const Environment& env);

/// The upstream query for `question` (fresh random ID, RD, CD and DO from the client, our
/// EDNS payload size).
UpstreamRequest upstream_request(const QueryContext& ctx, const Environment& env,
                                 UpstreamRequest::Purpose purpose, const wire::Question& question);

/// Checks the upstream's bytes against the request (RFC 5452 §9.1: ID and question) and
/// parses them; records the server. On failure sets ctx.upstream_error and returns nullopt.
std::optional<wire::Message> accept_upstream(QueryContext& ctx, Result<UpstreamAnswer> answer);

/// Post-resolution DNS rules over the upstream truth: may block (Next::Answer).
Next post_policy(QueryContext& ctx, const Environment& env);

/// The client's answer from the upstream truth: RA, AD (RFC 6840 §5.8), DNSSEC records
/// without DO (RFC 4035 §3.2.1), the upstream's EDEs, Gateway's maximum TTL.
void answer_from_upstream(QueryContext& ctx, const Environment& env);

/// The local answer completed with the target's records (override_host, safe search).
void complete_target(QueryContext& ctx, const wire::Message& target_answer);

/// An error answer with `rcode` for the decoded query; SERVFAIL carries the EDE for
/// ctx.upstream_error (RFC 8914 §4.22/4.23).
void answer_error(QueryContext& ctx, std::uint16_t rcode, const StageConfig& cfg);

/// Serializes ctx.response within the transport's size limit (RFC 6891 §6.2.5: never below
/// 512 on UDP, 512 without EDNS) into ctx.wire_out; records TC and the EDE codes.
void serialize_response(QueryContext& ctx, const StageConfig& cfg);

} // namespace resolver::stages
