// SPDX-License-Identifier: MIT
#pragma once
#include <cstdint>
#include <vector>

#include "probes/common/pcap.hpp"
#include "probes/common/targets.hpp"
#include "probes/compare/observation.hpp"
#include "probes/session/engine.hpp"

namespace probes::session {

/// Normalises one exchange outcome for `target` (wire or DoH JSON; HTTP status and
/// content type checked against RFC 8484 §6 / the JSON API).
compare::Observation observe(const common::Target& target, const Outcome& outcome);

/// Records every exchanged message into `pcap` (when not null): the query from a
/// synthetic client endpoint (loopback of the server's family, port 40000 + target
/// index) to the server, and the answer back.
void record_pcap(common::PcapWriter* pcap, std::size_t target_index, const common::Target& target,
                 const std::vector<std::uint8_t>& query, const Outcome& outcome);

} // namespace probes::session
