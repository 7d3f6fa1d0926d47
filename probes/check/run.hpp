// SPDX-License-Identifier: MIT
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "probes/check/expectations.hpp"
#include "probes/common/pcap.hpp"
#include "probes/common/query.hpp"
#include "probes/common/targets.hpp"
#include "probes/session/session.hpp"

namespace probes::check {

/// Where the lab attributed one query, from its gateway_dns log line (docs/query-log.md).
struct Attribution {
    std::string location;    // Location ("" = none)
    std::string location_id; // LocationID
    std::string subdomain;   // the location's DoH subdomain, when known
    std::string reason;      // LabLocationReason: src-network:..., edns-65011:SUB, none: ...
    std::string source;      // SrcIP
};

/// One case asked over one target.
struct CaseResult {
    std::size_t case_index = 0;
    std::string target; // target name ("" when no target matched the case's transports)
    std::string transport;
    resolver::util::Url url; // the target URL the case used (its hints applied)
    compare::Observation observation;
    std::vector<std::string> failures;     // empty = pass
    bool asked = false;                    // a query was sent (false: no target, or not applicable)
    std::string edns_location;             // the EDNS 65011 value sent, "" when none
    std::string location_sent_as;          // how the case's location travelled, "" when none
    std::string source;                    // the local address it was sent from, "" = any
    std::optional<Attribution> attributed; // from the lab's log, when it was given
    /// The exchange's timing, when it completed (upstream::Exchange).
    struct Timing {
        double connect_ms = 0; // 0 when a connection was reused (and for UDP)
        double query_ms = 0;
        bool reused = false;
    };
    std::optional<Timing> timing;
};

struct CheckReport {
    std::vector<Case> cases;
    std::vector<CaseResult> results;
    bool lab_log = false; // attributions were looked up in the lab's log
    [[nodiscard]] bool all_pass() const;
};

/// The target URL a case uses: location hints applied (SNI, DoH path, headers, the
/// `cf-dns-location` header for DoH when `location` is set, `source=` for plain DNS).
common::Target target_for_case(const common::Target& t, const Case& c);
/// Whether a case runs on a target: its transport label or name is listed (or none are).
bool case_selects(const Case& c, const common::Target& t);

/// How a case's location travels over `t` ("EDNS 65011", "cf-dns-location header", ...),
/// or why it cannot ("cannot set this location over udp: ..."), given the base query options.
struct LocationPlan {
    std::string sent_as;     // "" when the case has no location
    std::string cannot;      // non-empty: the case fails with this, nothing is sent
    bool edns_65011 = false; // put the location into EDNS 65011
};
LocationPlan plan_location(const Case& c, const common::Target& t,
                           const common::QueryOptions& base);

/// Runs every case on every selected target concurrently and evaluates the expectations.
CheckReport run_check(session::ProbeSession& session, const std::vector<common::Target>& targets,
                      const std::vector<Case>& cases, const common::QueryOptions& base,
                      common::PcapWriter* pcap);

} // namespace probes::check
