// SPDX-License-Identifier: MIT
#pragma once
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace probes::scenario {

/// Flags of `dnslab-probe scenario new|run|pack|unpack` (docs/scenarios.md).
struct Cli {
    CLI::App* scenario = nullptr;
    CLI::App* run = nullptr;
    CLI::App* pack = nullptr;
    CLI::App* unpack = nullptr;
    CLI::App* create = nullptr; // `scenario new`
    std::string description;
    std::string dir, out, archive, dest = ".", resolver_bin, junit, html;
    std::vector<std::string> transports, reports;
    bool json = false, no_color = false, keep = false, no_probe_behaviour = false;
};

void add_cli(CLI::App& app, Cli& cli);
/// Runs the parsed subcommand; returns the process exit code.
int run_cli(const Cli& cli);

} // namespace probes::scenario
