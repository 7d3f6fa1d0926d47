// SPDX-License-Identifier: MIT
#pragma once
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace probes::scenario {

/// Flags of `dnslab-probe scenario run|pack|unpack` and `dnslab-probe replay`
/// (docs/scenarios.md, docs/replay.md).
struct Cli {
    CLI::App* scenario = nullptr;
    CLI::App* run = nullptr;
    CLI::App* pack = nullptr;
    CLI::App* unpack = nullptr;
    CLI::App* replay = nullptr;
    std::string dir, out, archive, dest = ".", resolver_bin, logfile;
    std::vector<std::string> transports;
    bool json = false, no_color = false, keep = false, no_probe_behaviour = false;
    unsigned concurrency = 128, limit = 0, timeout_ms = 3000;
    std::string protocol;
};

void add_cli(CLI::App& app, Cli& cli);
/// True when one of our subcommands was parsed.
bool parsed(const Cli& cli);
/// Runs the parsed subcommand; returns the process exit code.
int run_cli(const Cli& cli);

} // namespace probes::scenario
