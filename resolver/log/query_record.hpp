// SPDX-License-Identifier: MIT
#pragma once
#include <string>

#include "resolver/stages/query_context.hpp"

namespace resolver::log {

/// One `gateway_dns` JSON object for a finished query (no trailing newline): every field of
/// the Logpush dataset (docs/gateway_dns_fields.json) with its documented type, then the
/// lab-only fields, which start with `Lab`. A pure rendering of `ctx` and the policy snapshot
/// it pinned (identity map, geo and category tables, the `[log]` constants). Documented,
/// field by field with the source of each value, in docs/query-log.md.
std::string render_query_record(const stages::QueryContext& ctx);

} // namespace resolver::log
