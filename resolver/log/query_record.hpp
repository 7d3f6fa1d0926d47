// SPDX-License-Identifier: MIT
#pragma once
#include <string>

#include "resolver/stages/query_context.hpp"

namespace resolver::log {

/// One `gateway_dns`-shaped JSON object for a finished query (no trailing newline). Field
/// names follow the Logpush dataset where a field exists there; lab-only fields start with
/// `Lab`. Documented in docs/query-log.md.
std::string render_query_record(const stages::QueryContext& ctx);

} // namespace resolver::log
