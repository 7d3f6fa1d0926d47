// SPDX-License-Identifier: MIT
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "probes/check/run.hpp"
#include "resolver/core/result.hpp"

namespace probes::check {

/// The locations of a Gateway locations export (`{"result": [...]}` or a bare array), so a
/// location the lab logs by name and ID can be compared with a case's subdomain.
struct LocationDirectory {
    struct Entry {
        std::string name;
        std::string subdomain; // doh_subdomain
    };
    std::map<std::string, Entry> by_id;
};
resolver::Result<LocationDirectory> parse_locations(const std::string& json_text);

/// Finds the lab's log line of every result that was asked (same name, type, protocol,
/// EDNS 65011 value, source address when set, SNI when set, and over DoH the path and the
/// cf-dns-location header), records where the lab attributed the query, and fails a case
/// whose `location` the lab did not apply (location_failure). Each log line is used once. Sets
/// `r.lab_log`. Returns how many asked results found their line (the caller waits for the log
/// writer until all have).
std::size_t apply_lab_log(CheckReport& r, const std::vector<nlohmann::json>& records,
                          const LocationDirectory& locations);

/// How many asked results `apply_lab_log` would match in `records` (no changes).
std::size_t count_matches(const CheckReport& r, const std::vector<nlohmann::json>& records);

/// Why the lab did not apply the case's location, or nullopt when it did (or the case has
/// none). Plain DNS gets "cannot set this location over udp: ..." naming what won.
std::optional<std::string> location_failure(const Case& c, const CaseResult& r,
                                            const Attribution& a);

/// The query records of a lab's --log-json file from byte `offset` on (lines without
/// QueryName and unreadable lines are left out: the writer may be in the middle of a line).
std::vector<nlohmann::json> read_log(const std::string& path, std::uint64_t offset = 0);
/// The size of the log now: a run reads only what was written after it started, so the
/// lab's earlier queries cannot stand in for the run's own.
std::uint64_t log_offset(const std::string& path);

/// "HQ (src-network:127.0.0.0/24)", "no location (none: ...)": for reports.
std::string attribution_text(const Attribution& a);

} // namespace probes::check
