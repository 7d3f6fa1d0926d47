// SPDX-License-Identifier: MIT
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "probes/compare/observation.hpp"
#include "resolver/core/result.hpp"

namespace probes::check {

/// One `[[case]]` of an expectation file (format: docs/probe.md, examples in
/// fixtures/expectations/).
struct Case {
    std::string id;    // `id`, default "NAME TYPE"
    std::string qname; // `name`
    std::uint16_t qtype = 1;
    std::vector<std::string> transports; // transport labels or target names; empty = all

    // Location hints, applied per transport (see docs/probe.md "check FILE").
    std::string location;                       // EDNS 65011 / cf-dns-location header
    std::string source;                         // local address plain DNS is sent from
    std::string sni;                            // TLS SNI for tls and https targets
    std::string doh_path;                       // replaces the DoH URL path
    std::map<std::string, std::string> headers; // extra DoH request headers

    // Expected outcome; every given item must hold.
    /// blocked (block answer without the block page: 0.0.0.0/::, REFUSED, EDE 15-17),
    /// blockpage (the block page IPs), blocked-any (either), allowed, safesearch, override:...
    std::string outcome;
    std::optional<std::uint16_t> rcode;             // `rcode = "NXDOMAIN"`
    std::optional<std::vector<std::string>> answer; // rdata of qtype records, as a set
    std::vector<std::uint16_t> ede;                 // codes that must be present
};

/// Parses a TOML expectation file. Errors name the case and key.
resolver::Result<std::vector<Case>> parse_cases(const std::string& toml_text);

/// Checks one observation against a case. Returns the reasons it fails; empty = pass.
/// Pure: the caller supplies the observation (from any transport).
std::vector<std::string> evaluate(const Case& c, const compare::Observation& o);

/// Known Safe Search / YouTube restricted targets (gateway-behaviour.md §3).
const std::vector<std::string>& safesearch_hosts();

} // namespace probes::check
