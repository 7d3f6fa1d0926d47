// SPDX-License-Identifier: MIT
#pragma once
#include <chrono>
#include <string>
#include <string_view>

#include "resolver/log/json_writer.hpp"

namespace resolver::log {

/// RFC 3339 in UTC with milliseconds ("2025-01-02T03:04:05.678Z"): the form of `Datetime`
/// in Cloudflare's gateway_dns Logpush records, used by the query log and the event log.
std::string rfc3339_ms(std::chrono::system_clock::time_point t);

/// Opens one lab event line: `{"Datetime":"…","LabEvent":"<name>"`; the caller adds its
/// fields and calls end_object(). Lab events (policy loads and reloads, fault-plan reloads)
/// go to the event log (`--event-log`, default stderr), never to the query log, so a
/// Logpush consumer of the query log sees gateway_dns records only.
JsonWriter& begin_event(JsonWriter& w, std::string_view name,
                        std::chrono::system_clock::time_point at);

} // namespace resolver::log
