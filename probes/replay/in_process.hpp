// SPDX-License-Identifier: MIT
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "probes/scenario/scenario.hpp"
#include "probes/session/engine.hpp"
#include "resolver/core/result.hpp"

namespace probes::replay {

/// One record's query as a client of the lab would send it.
struct PlannedQuery {
    std::string protocol;           // udp, tcp, tls, https
    std::string hint;               // the location hint: DoH subdomain or EDNS 65011 payload
    std::vector<std::uint8_t> wire; // the DNS query (EDNS 65011 carries the hint off DoH)
};

/// What the lab would have answered and logged, for each planned query.
struct LabRun {
    std::vector<session::Outcome> outcomes; // one per query, in order
    std::vector<nlohmann::json> log;        // the gateway_dns records the lab would write
};

/// Why `sc` needs a child resolver, or "" when the stage runner can answer its queries in
/// this process: a scenario with helper resolvers or placeholders needs their sockets, and
/// one whose upstream is not a single `fixture:` needs the network.
std::string needs_child_resolver(const scenario::Scenario& sc, bool single_fixture_upstream);

/// Runs every query through the resolver's StageRunner with the scenario's [lab] config and
/// policy (read as the child resolver would read it from `work`, a scratch folder), the
/// synthesised categories file and `upstream` (the fixture URL) as the resolver's
/// --categories and --upstream. The listener facts are those of a loopback client of the
/// lab's listeners. A query whose route needs another upstream (custom resolvers, an
/// internal view) is an error: the caller falls back to the child resolver. `progress` is
/// called with the number of queries answered so far, every so often.
resolver::Result<LabRun> run_in_process(const scenario::Scenario& sc,
                                        const std::filesystem::path& work,
                                        const std::string& categories_file,
                                        const std::string& upstream,
                                        const std::vector<PlannedQuery>& queries,
                                        const std::function<void(std::size_t)>& progress);

} // namespace probes::replay
