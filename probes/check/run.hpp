// SPDX-License-Identifier: MIT
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "probes/check/expectations.hpp"
#include "probes/common/pcap.hpp"
#include "probes/common/query.hpp"
#include "probes/common/targets.hpp"
#include "probes/matrix/engine.hpp"

namespace probes::check {

/// One case asked over one target.
struct CaseResult {
    std::size_t case_index = 0;
    std::string target; // target name ("" when no target matched the case's transports)
    std::string transport;
    compare::Observation observation;
    std::vector<std::string> failures; // empty = pass
};

struct CheckReport {
    std::vector<Case> cases;
    std::vector<CaseResult> results;
    [[nodiscard]] bool all_pass() const;
};

/// The target URL a case uses: location hints applied (SNI, DoH path, headers, and the
/// `cf-dns-location` header for DoH when `location` is set).
common::Target target_for_case(const common::Target& t, const Case& c);
/// Whether a case runs on a target: its transport label or name is listed (or none are).
bool case_selects(const Case& c, const common::Target& t);

/// Runs every case on every selected target concurrently and evaluates the expectations.
CheckReport run_check(matrix::Engine& engine, const std::vector<common::Target>& targets,
                      const std::vector<Case>& cases, const common::QueryOptions& base,
                      common::PcapWriter* pcap);

std::string render_check_table(const CheckReport& r, bool color);
/// `--json` for check: schema "dnslab.probe.check.v1" (docs/probe.md).
nlohmann::json check_json(const CheckReport& r);
std::string check_junit(const CheckReport& r);

} // namespace probes::check
