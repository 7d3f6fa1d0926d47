// SPDX-License-Identifier: MIT
#pragma once
#include <cstdint>

#include "resolver/config/config.hpp"
#include "resolver/stages/query_context.hpp"

namespace resolver::runtime {

/// Reads every policy input the config names ([policy] files and the [behaviour] table) into
/// one immutable snapshot. Used at start, on SIGHUP (on the thread pool) and by `explain`.
/// Errors name the file and, for rules, the rule id and column. `instance` is the process's
/// QueryID prefix (stages::SiteConstants::instance; 0 for explain).
Result<stages::PolicySnapshotPtr> load_policy_snapshot(const config::Config& cfg,
                                                       std::uint64_t generation,
                                                       std::uint64_t instance = 0);

} // namespace resolver::runtime
