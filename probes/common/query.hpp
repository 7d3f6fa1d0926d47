// SPDX-License-Identifier: MIT
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "resolver/core/result.hpp"
#include "resolver/wire/message.hpp"

namespace probes::common {

/// One question of a run.
struct QuestionSpec {
    std::string name;
    std::uint16_t type = resolver::wire::rrtype::A;
};

/// EDNS and header knobs for every query of a run (the dig/kdig options of the same names).
struct QueryOptions {
    bool rd = true;
    bool cd = false;
    bool dnssec_ok = false; // --do
    bool no_edns = false;   // --no-edns: no OPT record at all
    std::uint16_t bufsize = 1232;
    std::string ecs;      // --ecs CIDR, RFC 7871 §6
    bool padding = false; // RFC 7830 + RFC 8467 §4.1 block-length padding (128 octets)
    bool nsid = false;    // RFC 5001
    std::string cookie;   // RFC 7873 client cookie, 8 bytes; "" = none
    std::string location; // EDNS 65011: Gateway location (DoH/DoT subdomain)
    std::vector<resolver::wire::EdnsOption> raw; // --opt CODE:HEX
};

/// Parses "CODE:HEX" (e.g. "65011:616263"); HEX may be empty.
resolver::Result<resolver::wire::EdnsOption> parse_raw_option(const std::string& text);
/// Parses "192.0.2.0/24" or "2001:db8::/56" into ECS option data (RFC 7871 §6: the address
/// is truncated to the source prefix length, scope 0).
resolver::Result<std::string> ecs_option_data(const std::string& cidr);
/// Parses a dnsperf-style question list: "name type" per line, '#' comments, type A default.
resolver::Result<std::vector<QuestionSpec>> parse_question_list(const std::string& text);

/// Builds the wire query. Fails on a bad name or a bad ECS prefix.
resolver::Result<std::vector<std::uint8_t>> build_query(const QuestionSpec& q,
                                                        const QueryOptions& opts, std::uint16_t id);

} // namespace probes::common
