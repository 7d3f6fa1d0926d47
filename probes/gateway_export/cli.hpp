// SPDX-License-Identifier: MIT
#pragma once
#include <string>

#include <CLI/CLI.hpp>

namespace probes::gateway_export {

/// Flags of `dnslab-probe gateway-export` (docs/gateway-export.md).
struct Cli {
    CLI::App* cmd = nullptr;
    std::string account, out, api_base = "https://api.cloudflare.com/client/v4", ca;
    unsigned timeout_ms = 30000;
};

void add_cli(CLI::App& app, Cli& cli);
/// Runs the parsed subcommand; the token comes from CLOUDFLARE_API_TOKEN. Returns the exit code.
int run_cli(const Cli& cli);

} // namespace probes::gateway_export
