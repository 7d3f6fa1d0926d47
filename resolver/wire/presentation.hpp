// SPDX-License-Identifier: MIT
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "resolver/wire/message.hpp"

namespace resolver::wire {

/// One record in uncompressed wire format (RFC 1035 §4.1.3: owner, type, class, TTL,
/// RDLENGTH, RDATA), as it would stand alone in a message without name compression.
/// RDATA longer than 65535 bytes cannot be a record: the result is empty then.
std::vector<std::uint8_t> record_wire(const ResourceRecord& rr);

/// Presentation format of one record's RDATA ("192.0.2.1", "\"v=spf1 -all\"",
/// "10 mx.example.com."), via ldns; RFC 3597 §5 `\# len hex` when ldns cannot render it.
std::string rdata_text(const ResourceRecord& rr);

} // namespace resolver::wire
