// SPDX-License-Identifier: MIT
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "resolver/core/result.hpp"
#include "resolver/io/listener.hpp"
#include "resolver/io/udp_listener.hpp"
#include "resolver/upstream/upstream.hpp"

namespace resolver::config {

/// Everything dnslab-resolver is started with. Built from the TOML file (--config), then
/// overridden by command-line flags. Immutable once the server starts. Every key is
/// documented in docs/configuration.md.
struct Config {
    std::vector<std::string> listen;   // listener URLs
    std::vector<std::string> upstream; // default upstream URLs, tried in order (failover)
    std::string log_json;              // "" = no query log; "-" = stdout
    std::string event_log;             // LabEvent lines: "" = stderr; "-" = stdout; else a file
    std::string ready_file;
    std::string state_dir; // lab CA and other generated state

    // [telemetry] (docs/metrics.md, docs/dnstap.md)
    std::string metrics; // "" = off; http://ADDR:PORT/metrics serves Prometheus text format
    std::string dnstap;  // "" = off; unix:PATH or file:PATH writes dnstap Frame Streams

    // [resolver]
    upstream::UpstreamOptions upstream_options;
    unsigned fail_threshold = 1; // consecutive failures before an upstream is backed off
    /// Queries one upstream may have outstanding (upstream::GroupLimits::max_in_flight).
    std::size_t max_in_flight_per_upstream = 4096;
    std::size_t cache_size = 100000; // entries; 0 disables the cache
    std::uint32_t cache_max_ttl = 86400;
    std::uint16_t udp_payload = 1232;
    unsigned shutdown_grace_ms = 2000;
    std::size_t max_waiting_queries = 10000; // queries waiting for upstreams at once
    /// Event loops serving queries (`--workers`, [resolver] workers; "auto" = the CPUs the
    /// process may run on).
    /// Each has its own SO_REUSEPORT sockets on every listener (docs/workers.md).
    unsigned workers = 1;

    // [udp]
    io::UdpOptions udp_options;

    // [tcp] (and DoT/DoH connection limits)
    io::StreamLimits stream_limits;

    // [tls]
    std::string tls_cert;
    std::string tls_key;
    std::string gateway_domain; // "" = the [behaviour] gateway_domain (cloudflare-gateway.com)

    // [doh]
    std::size_t doh_max_streams = 256;
    std::size_t doh_max_header_bytes = 16384;
    std::size_t doh_max_body_bytes = 65535;

    // [policy]
    std::string rules_file;
    std::string lists_file;
    std::string locations_file;
    std::string categories_file;
    std::string geo_file;
    std::string mmdb_file;
    std::string identities_file;
    std::string applications_file;    // lab application catalogue (app.ids, app.type.ids)
    std::string app_types_file;       // gateway-export app_types.json: application names
    std::string indicator_feeds_file; // lab indicator feeds (dns.indicator_feed)
    std::string category_ids_file;    // CSV id,name,parent; "" = the compiled-in table
    /// The account's maximum DNS TTL (`max_ttl_secs` of /gateway/configuration): 0 = none,
    /// else 60..36000; locations may disable or override it.
    std::uint32_t max_ttl_secs = 0;
    /// Any loader warning (a rule skipped, a setting ignored, an unknown category ID) is
    /// fatal instead of reported: for CI gating of an export (`--strict`).
    bool policy_strict = false;
    std::string behaviour_toml; // the [behaviour] table, re-serialized, parsed by the policy module

    // [log]: the constants logged for the gateway_dns fields no lab can know
    // (docs/query-log.md). An absent key keeps the default of stages::SiteConstants.
    struct LogConstants {
        std::optional<std::string> account_id;
        std::optional<std::string> tenant_id;
        std::optional<std::string> colo_code;
        std::optional<std::int64_t> colo_id;
        std::optional<std::string> team_name;
    } log;
    // [internal_dns] and [private_networks]: lab upstreams standing in for Cloudflare
    // Internal DNS views and for resolvers on private networks (stages::RouteTable).
    std::map<std::string, std::string> internal_views; // view_id -> upstream URL
    std::map<std::string, std::string> internal_zones; // zone name -> InternalDNSZoneID
    std::string default_vnet;                          // URL for the default virtual network
    std::map<std::string, std::string> vnets;          // vnet_id -> upstream URL
    std::string config_dir; // relative paths in the file are resolved against this
};

/// Loads a TOML config file. Errors name the file, line and key.
Result<Config> load_file(const std::string& path);

/// Default state directory: $XDG_CACHE_HOME/dnslab or ~/.cache/dnslab.
std::string default_state_dir();

/// The CPUs this process may run on: its affinity mask (taskset, a container's cpuset), as
/// nproc(1) counts; the online CPUs when the mask cannot be read; 0 when nothing can tell.
unsigned usable_cpus();

/// `--workers` / [resolver] workers: an integer from 1 to 64, or "auto" (usable_cpus(), at
/// least 1, at most 64).
Result<unsigned> parse_workers(const std::string& text);

} // namespace resolver::config
