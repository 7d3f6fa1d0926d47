// SPDX-License-Identifier: MIT
#pragma once
#include <string>

#include "resolver/pipeline/query_context.hpp"

namespace resolver::pipeline {

/// One `gateway_dns`-shaped JSON object for a finished query (no trailing newline). Field
/// names follow the Logpush dataset where a field exists there; lab-only fields start with
/// `Lab`. Documented in docs/query-log.md.
std::string render_log_record(const QueryContext& ctx);

} // namespace resolver::pipeline
