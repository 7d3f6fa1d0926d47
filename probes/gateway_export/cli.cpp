// SPDX-License-Identifier: MIT
#include "probes/gateway_export/cli.hpp"

#include <cstdlib>
#include <iostream>

#include "probes/gateway_export/export.hpp"

namespace probes::gateway_export {

void add_cli(CLI::App& app, Cli& c) {
    c.cmd = app.add_subcommand("gateway-export",
                               "Fetch an account's Gateway rules, locations, lists with their "
                               "items, categories and app types into a folder the lab loads "
                               "(token from CLOUDFLARE_API_TOKEN; docs/gateway-export.md)");
    c.cmd->add_option("--account", c.account, "Cloudflare account ID")->required();
    c.cmd->add_option("--out", c.out, "Folder to create (must not exist, or be empty)")->required();
    c.cmd->add_option("--api-base", c.api_base,
                      "API base URL (default https://api.cloudflare.com/client/v4)");
    c.cmd->add_option("--ca", c.ca, "PEM trust store for the API's certificate (default: system)")
        ->check(CLI::ExistingFile);
    c.cmd->add_option("--timeout", c.timeout_ms, "Per-request timeout in ms")
        ->check(CLI::Range(1U, 600000U));
}

int run_cli(const Cli& c) {
    ExportOptions o;
    o.account = c.account;
    o.out = c.out;
    o.api_base = c.api_base;
    o.ca_file = c.ca;
    o.timeout_ms = c.timeout_ms;
    // The token stays in this process: sent as the bearer token, never written or printed.
    if (const char* t = std::getenv("CLOUDFLARE_API_TOKEN"); t != nullptr) {
        o.token = t;
    }
    return run_export(o, std::cout, std::cerr);
}

} // namespace probes::gateway_export
