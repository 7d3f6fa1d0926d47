// SPDX-License-Identifier: MIT
#pragma once
#include <cstdint>

#include "resolver/config/config.hpp"
#include "resolver/stages/query_context.hpp"

namespace resolver::runtime {

/// Reads every policy input the config names ([policy] files and the [behaviour] table) into
/// one immutable snapshot. Used at start, on SIGHUP (on the thread pool) and by `explain`.
/// Errors name the file and, for rules, the rule id and column.
Result<stages::PolicySnapshotPtr> load_policy_snapshot(const config::Config& cfg,
                                                       std::uint64_t generation);

} // namespace resolver::runtime
