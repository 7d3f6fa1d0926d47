// SPDX-License-Identifier: MIT
#pragma once
#include <string>

#include <CLI/CLI.hpp>

namespace probes::replay {

/// Flags of `dnslab-probe replay LOGFILE --scenario DIR` (docs/replay.md).
struct Cli {
    CLI::App* cmd = nullptr;
    std::string logfile, scenario, resolver_bin, protocol, junit, html;
    std::vector<std::string> reports;
    bool json = false, keep = false, child_resolver = false;
    unsigned concurrency = 128, limit = 0, timeout_ms = 3000;
};

void add_cli(CLI::App& app, Cli& cli);
/// Runs the parsed subcommand; returns the process exit code (0 agree, 1 disagree, 2 could
/// not run).
int run_cli(const Cli& cli);

} // namespace probes::replay
