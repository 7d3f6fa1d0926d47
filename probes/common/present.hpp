// SPDX-License-Identifier: MIT
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace probes::common {

/// dig-like presentation of a wire answer, through ldns (ldns_wire2pkt + ldns_rr2str).
struct Presentation {
    std::string header; // ";; status: NOERROR, flags: qr rd ra; EDNS: udp 1232"
    std::vector<std::string> answer, authority, additional; // one line per RR, no newline
};

/// Renders `wire`; a message that wire::parse or ldns cannot parse yields a header saying so
/// and no records.
Presentation present(std::span<const std::uint8_t> wire);

} // namespace probes::common
