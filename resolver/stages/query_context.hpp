// SPDX-License-Identifier: MIT
#pragma once
#include <chrono>
#include <map>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "resolver/attribution/attribute.hpp"
#include "resolver/core/result.hpp"
#include "resolver/net/transport.hpp"
#include "resolver/policy/answer.hpp"
#include "resolver/policy/evaluate.hpp"
#include "resolver/wire/message.hpp"

namespace resolver::stages {

using QueryId = std::uint64_t; // ours, unique per pipeline; not the DNS message ID

/// What only Cloudflare knows about a query (its account, tenant and data centre): logged as
/// the lab constants of the config's `[log]` table (docs/query-log.md, docs/configuration.md).
struct SiteConstants {
    std::string account_id = "00000000000000000000000000000000"; // AccountID
    std::string tenant_id;                                       // TenantID ("" = none)
    std::string colo_code = "LAB";                               // ColoCode
    std::int64_t colo_id = 0;                                    // ColoID
    /// Email of queries without an identity: non_identity@<team_name>.cloudflareaccess.com,
    /// as Gateway logs non-identity on-ramps (developers.cloudflare.com/cloudflare-one/
    /// insights/logs/gateway-logs/).
    std::string team_name = "lab";
    /// Drawn once per resolver process (0 in explain and tests): with the per-process
    /// QueryContext::id it makes QueryID unique across processes and restarts.
    std::uint64_t instance = 0;
};

/// Where the lab sends what Gateway sends to Cloudflare-internal services and private
/// networks (config `[internal_dns]`, `[private_networks]`; docs/policy.md, "Resolver policies").
struct RouteTable {
    /// `resolve_dns_internally.view_id` -> the upstream URL standing in for that Internal DNS
    /// view (e.g. `fixture:DIR`). A view without an entry uses `[behaviour] internal_upstream`,
    /// else the default upstream.
    std::map<std::string, std::string> internal_views;
    /// Internal DNS zone name (lower case, no trailing dot) -> zone ID, for InternalDNSZoneID.
    std::map<std::string, std::string> internal_zones;
    /// Upstream URL standing in for private resolvers (`route_through_private_network`) on the
    /// account's default virtual network ("" = none reachable).
    std::string default_vnet;
    /// `vnet_id` -> upstream URL standing in for private resolvers on that virtual network.
    std::map<std::string, std::string> vnets;
};

/// The policy inputs in force, pinned by every query when it starts: a reload builds a new
/// snapshot and swaps the pointer, so a query never sees a half-built set.
struct PolicySnapshot {
    policy::PolicySetPtr set; // never null (an empty set when no policy files are given)
    policy::Behaviour behaviour;
    std::uint64_t generation = 0;      // bumped per successful load, logged as LabPolicyGeneration
    std::uint32_t account_max_ttl = 0; // [policy] max_ttl_secs; 0: no account-wide TTL cap
    SiteConstants site;                // [log]
    RouteTable routes;                 // [internal_dns], [private_networks]
};
using PolicySnapshotPtr = std::shared_ptr<const PolicySnapshot>;
/// A snapshot without any policy input (no rules, no locations).
PolicySnapshotPtr empty_policy();

struct Decision; // decision_cache.hpp

/// QueryContext::route of a query no resolver rule routes.
inline constexpr std::string_view kDefaultRoute = "default";

/// Where the answer came from, for the log.
enum class AnswerSource : std::uint8_t { None, Local, Cache, Upstream };

/// How a finished query ended.
enum class Disposition : std::uint8_t {
    Pending,  // still running
    Answered, // `wire_out` holds the response
    Dropped,  // nothing is sent (still logged)
};

/// The one upstream exchange the runner is waiting for.
struct UpstreamRequest {
    enum class Purpose : std::uint8_t {
        Answer, // the client's question
        Target, // the override_host / safe-search target that completes a local answer
    };
    Purpose purpose = Purpose::Answer;
    wire::Question question;
    std::uint16_t id = 0;                 // the random ID on the wire (RFC 5452 §4.3)
    std::vector<std::uint8_t> wire;       // the query to send
    const policy::Route* route = nullptr; // resolver-policy route; null: the default upstream
    std::string route_key;                // the upstream's identity: Route::key() or "default"
    /// The upstream URLs to ask, in order (a failover group); empty: the default upstream.
    /// Decided by the stages (route()); the driver only builds and keeps the group per key.
    std::vector<std::string> urls;
    /// The group prefers its fastest member over the configured order (custom resolvers,
    /// `[behaviour] custom_resolver_selection`).
    bool prefer_fastest = false;
    /// The Internal DNS view's answer being replaced by the default upstream's (fallback
    /// "public_dns").
    bool internal_fallback = false;
    std::chrono::steady_clock::time_point sent_at; // for the *DurationMs log fields
};

/// Internal DNS facts for the log (InternalDNS* fields).
struct InternalDnsFacts {
    std::string view_id;
    std::string fallback_applied; // InternalDNSFallbackStrategy: "" unless a fallback ran
    int rcode = 0;                // what the view answered (SERVFAIL when it did not answer)
    std::string zone_id;
    std::int64_t duration_ms = 0;
};

/// Custom resolver facts for the log (CustomResolve* fields).
struct CustomResolveFacts {
    std::int64_t duration_ms = 0;
    std::string response; // CustomResolverResponse: RCODE name, or "timeout" / "error"
};

/// What an upstream returned for an UpstreamRequest.
struct UpstreamAnswer {
    std::vector<std::uint8_t> wire;
    std::string server; // who answered
};

/// Everything known about one client query, from the listener to the log line. The stage
/// runner fills it; the log line, `explain` and the probe's provenance view are renderings
/// of this one record. Never moved while a query runs (policy::QueryFacts views point in).
struct QueryContext {
    // Identity: set by the driver before start(), never modified afterwards.
    QueryId id = 0;
    net::TransportInfo transport;
    std::chrono::steady_clock::time_point received_at;
    std::chrono::system_clock::time_point received_wall;
    std::size_t query_size = 0;

    // decode
    std::optional<wire::Message> query;
    std::string drop_reason; // why the query was refused, dropped or FORMERR'd, for the log
    PolicySnapshotPtr policy;
    std::string qname_text;                   // backing store for policy::QueryFacts views
    std::optional<std::string> edns_location; // EDNS 65011 payload
    std::optional<std::vector<std::int64_t>> request_categories; // EDNS 65050

    // attribution and policy
    std::optional<net::IpAddr> src_ip; // parsed once from transport.src / dst
    std::optional<net::IpAddr> dst_ip;
    std::optional<net::IpAddr> src_internal_ip; // private on-ramp traffic only
    attribution::LocationMatch location;
    policy::QueryFacts facts; // built once after attribution; views into this context
    /// The policy verdict: shared with the decision cache, never modified once set (the
    /// post-resolution phase makes a new one).
    std::shared_ptr<const policy::Evaluation> evaluation;
    std::shared_ptr<Decision> decision;             // the decision-cache entry in use, if any
    std::optional<policy::SynthesizedAnswer> synth; // a locally built answer (block, override…)
    std::string custom_resolver_address;

    // route and cache
    std::string route{kDefaultRoute};
    std::vector<std::string> route_urls;      // the route's upstreams, in order; empty: default
    std::vector<std::string> route_addresses; // custom resolvers: the address of each URL
    std::string route_key; // the upstream group's identity: route plus URLs ("" = default)
    bool route_prefer_fastest = false;
    std::optional<Error> route_error; // the route names nothing the lab can reach
    std::optional<InternalDnsFacts> internal_dns;
    std::optional<CustomResolveFacts> custom_resolve;
    /// EDNS Client Subnet sent upstream (RFC 7871), when the location has ecs_support.
    std::optional<wire::EdnsOption> client_subnet;
    std::string client_subnet_text; // "192.0.2.0/24": in the cache key and the log
    /// The ECS option of the response, when the client sent one to a location with
    /// ecs_support (RFC 7871 §7.2.2): its FAMILY, SOURCE PREFIX-LENGTH and ADDRESS, SCOPE 0.
    std::optional<wire::EdnsOption> client_subnet_echo;
    AnswerSource source = AnswerSource::None;
    std::uint32_t cache_age_s = 0;
    /// The answer is the one last sent for this very query, again (stages::ResentAnswers):
    /// nothing is decoded or built, so `query`, `response`, `upstream_answer`, the name and
    /// the facts only the log reads stay empty; the verdict, location and source are set.
    bool resent = false;

    // upstream
    std::optional<UpstreamRequest> upstream_request; // the exchange asked for, if any
    std::string upstream_server;                     // who answered, or who failed
    std::optional<Error> upstream_error;
    std::optional<wire::Message> upstream_answer; // upstream truth (pre post-policy), as received
    std::uint64_t upstream_serial = 0; // cache entry holding that truth (cache::CacheHit::serial)
    std::vector<std::uint32_t> upstream_ttls; // UpstreamRecordTTLs: one per answer RR, uncapped
    /// InitialResolvedIPs: the A/AAAA addresses of the upstream truth, before policy (the
    /// answer sections move into the response afterwards, so they are kept here). Binary:
    /// only the log formats them.
    std::vector<net::IpAddr> initial_resolved_ips;
    std::uint32_t applied_max_ttl = 0; // AppliedMaxTTL: the cap applied to the answer, 0 none

    // finish
    Disposition disposition = Disposition::Pending;
    std::optional<wire::Message> response; // what the client gets, before serialization
    std::vector<std::uint8_t> wire_out;    // exactly the bytes sent
    std::vector<std::uint16_t> ede_codes;  // EDEErrors as sent
    bool truncated = false;
    std::uint16_t rcode = 0;   // the RCODE sent (with the extended bits of OPT)
    std::uint32_t min_ttl = 0; // freshness_lifetime() of what was sent
    std::chrono::steady_clock::time_point finished_at;

    /// Storage only, never read as this query's data: a message of an earlier query on the
    /// same pipeline slot, which a cache hit assigns over (cache::Cache::lookup_into) so that
    /// its vectors and names are reused instead of allocated again.
    wire::Message recycled_message;
    /// Storage only, likewise: an earlier query's parsed message, which decode parses into.
    wire::Message recycled_query;
};

/// Makes a finished query's context ready for the next query of the same pipeline slot: every
/// member is set back to its initializer in place (what it holds is released: the policy
/// snapshot, the decision, the verdicts), strings and vectors emptied with their capacity
/// kept, and the sections of the messages it held kept as storage to assign over. No value
/// crosses over.
void reuse(QueryContext& ctx);

} // namespace resolver::stages
