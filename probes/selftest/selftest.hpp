// SPDX-License-Identifier: MIT
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "probes/check/expectations.hpp"
#include "probes/common/targets.hpp"
#include "probes/compare/observation.hpp"
#include "probes/selftest/report.hpp"
#include "resolver/core/result.hpp"

namespace probes::selftest {

/// Everything the self-test needs to know (the `dnslab-probe selftest` flags, docs/selftest.md).
struct Options {
    // Lab profile: the resolver's ready file (listener URLs and `ca PATH`) or a host spec in
    // the probe's --host syntax (`127.0.0.1:udp=5353,tcp=5353,tls=8853,https=8443`).
    std::string lab_ready;
    std::string lab_host;
    // Gateway profile (also overrides single lab endpoints): public defaults are only
    // defaults, never test targets.
    std::string location;        // <sub>: fills doh and dot for a Gateway location
    std::string doh;             // https://<sub>.cloudflare-gateway.com/dns-query
    std::string dot;             // <sub>.cloudflare-gateway.com[:853]
    std::string ipv4;            // ADDR[:PORT]
    std::string ipv6;            // ADDR or [ADDR]:PORT
    std::string ca;              // trust store for DoT/DoH ("" = system, lab: the lab CA)
    std::string expected_issuer; // PEM file or issuer DN text (lab default: the lab CA)

    // Names. nullopt: the profile's default (apply_profile_defaults); "" switches the check
    // that uses it off (reported as skipped). A name the resolver does not serve skips its
    // check with the reason, it never fails it.
    std::string reach_name;                 // asked over every transport
    std::optional<std::string> large_name;  // TXT answer above 1232 bytes (TC over UDP)
    std::optional<std::string> signed_name; // DNSSEC-signed name (AD bit)
    std::optional<std::string> error_name;  // a name whose answer is an error (EDE expected)
    std::vector<std::string> test_names;    // policy names (default: Gateway's category test names)
    std::vector<std::string> names;         // customer-supplied policy names
    std::string expect_file;                // probe check TOML with expected outcomes

    std::string resolv_conf = "/etc/resolv.conf";
    unsigned timeout_ms = 2000;
    unsigned retries = 0;
    std::string tool_version = "0.1.0";
};

/// Which profile `opts` selects: "gateway" when a Gateway endpoint is given and no lab source,
/// else "lab".
std::string profile_of(const Options& opts);

/// The domain of Gateway's per-location DoH and DoT hosts.
inline constexpr const char* kGatewayDomain = "cloudflare-gateway.com";

/// `--location SUB`: the location's DoH URL and DoT host, where not given explicitly.
void apply_location(Options& opts);

/// What to tell someone who ran the self-test with nothing to test (no endpoint flag and no
/// lab ready file): how to run it for a Gateway location, and for the lab.
std::string how_to_run(const std::string& program);

/// Fills the names a profile uses when the user left them out: the lab's fixture names
/// (www.example.com, big.example.com TXT, servfail.example.com: SERVFAIL when the lab runs with the
/// documented fault) or the public defaults of the Gateway profile, and Gateway's category test
/// names (gateway_test_names).
void apply_profile_defaults(Options& opts);

/// One endpoint under test: id (udp4, tcp4, udp6, tcp6, dot, doh-h2, doh-h1) and the probe
/// target (name = id).
struct Endpoint {
    std::string id;
    common::Target target;
};

/// The endpoints `opts` names, in the fixed order above. Reads the lab ready file. Errors are
/// "could not run" (exit 2): unreadable ready file, bad address or URL, nothing to test.
resolver::Result<std::vector<Endpoint>> build_endpoints(Options& opts);

/// Gateway's category test names, `<category>.testcategory.com`
/// (https://developers.cloudflare.com/cloudflare-one/traffic-policies/dns-policies/test-dns-filtering/),
/// plus nudity (1.1.1.1 for Families).
const std::vector<std::string>& gateway_test_names();

/// Policy classification of one answer: "allowed", "blocked", "blockpage", "override",
/// "refused" or "error", from the probe's sinkhole labels; `c` supplies an override
/// expectation. REFUSED to an address question is "refused" ("resolver refused (not a Gateway
/// location?)") when the endpoint also refused the reach name (`endpoint_refuses`): Gateway
/// refuses every query from a source that is no location's. When the endpoint answers other
/// names, it is a block (Gateway's test-dns-filtering page shows REFUSED for a block with the
/// block page off).
std::string classify(const compare::Observation& o, const std::vector<std::string>& labels,
                     const check::Case& c, bool endpoint_refuses);

/// Verdict of a policy check from the per-transport classifications and expectation failures.
Verdict policy_verdict(const std::vector<std::string>& classes, bool has_expectation,
                       const std::vector<std::string>& failures);

/// The interception.identity check from the `id.server` TXT answers (RFC 4892) of each
/// reachable endpoint (an empty list: no identity). Plain DNS answered by another resolver
/// than DoT/DoH is a failure (intercepted or redirected), never a warning.
Check judge_identity(const std::map<std::string, std::vector<std::string>>& identities);

/// The reachability check of one endpoint from its observation and exchange timings.
/// REFUSED is never a pass: Gateway refuses plain DNS from a source address that is no
/// location's network, the customer's real fault.
Check judge_reachability(const std::string& id, const compare::Observation& obs, double connect_ms,
                         double query_ms);

/// Progress callback: (step, total, text).
using Progress = std::function<void(int, int, const std::string&)>;

/// Runs every check and returns the report (without local facts; the caller adds them).
/// Never fails: a check that cannot run is reported as such.
Report run_selftest(const Options& opts, const std::vector<Endpoint>& endpoints,
                    const Progress& progress);

} // namespace probes::selftest
