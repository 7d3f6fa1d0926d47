// SPDX-License-Identifier: MIT
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "probes/compare/observation.hpp"

namespace probes::compare {

/// dig-like lines for an observation: the header (rcode, flags, EDNS), the answer, then the
/// authority and additional sections marked as such, then EDE. ldns prints wire answers;
/// DoH JSON answers are printed from the RRsets. A failed exchange is one ";; error:" line.
std::vector<std::string> record_lines(const Observation& o);

/// The RDATA of the answer records, as dig +short prints them (one per line, in order).
std::vector<std::string> short_lines(const Observation& o);

/// One observation as JSON (the `results[]` entries of dnslab.probe.v1 and check.v1).
nlohmann::json observation_json(const Observation& o);

/// "aa rd ra": the flags that are set, in header order.
std::string flags_text(const Flags& f);

} // namespace probes::compare
