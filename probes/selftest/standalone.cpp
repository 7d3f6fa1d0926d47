// SPDX-License-Identifier: MIT
// dnslab-selftest: the customer's self-test as a program of its own (issue 15,
// docs/install.md). The options, checks and reports are `dnslab-probe selftest`'s (cli.cpp);
// only the entry point differs, so that the executable handed to customers carries neither
// the probe's other subcommands nor a dependency on its name (a downloaded file gets
// renamed, which rules out dispatching on argv[0]).
#include <csignal>
#include <iostream>

#include <CLI/CLI.hpp>

#include "probes/selftest/cli.hpp"

#ifndef DNSLAB_VERSION
#define DNSLAB_VERSION "unknown"
#endif

namespace {
constexpr int kExitCannotRun = 2;
}

int main(int argc, char** argv) {
    std::signal(SIGPIPE, SIG_IGN); // a closed TLS/TCP peer must not end the self-test
    probes::selftest::Cli cli;
    CLI::App app{"dnslab-selftest: checks how this machine reaches its DNS resolver and writes "
                 "one file to attach to a support ticket."};
    app.set_version_flag("--version", "dnslab-selftest " DNSLAB_VERSION);
    probes::selftest::add_options(app, cli);
    cli.opts.tool_version = DNSLAB_VERSION;
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int rc = app.exit(e);
        return rc == 0 ? 0 : kExitCannotRun;
    }
    const auto& o = cli.opts;
    const bool diff = cli.diff != nullptr && cli.diff->parsed();
    if (!diff && o.location.empty() && o.doh.empty() && o.dot.empty() && o.ipv4.empty() &&
        o.ipv6.empty() && o.lab_ready.empty() && o.lab_host.empty()) {
        // dnslab-probe falls back to the lab; a customer has no lab, so say what to give.
        std::cerr << "dnslab-selftest: name your resolver: --location SUB (your Gateway "
                     "location's DoH subdomain), or --doh URL, --dot HOST and --ipv4 ADDR, or "
                     "see --help\n";
        return kExitCannotRun;
    }
    return probes::selftest::run_cli(cli);
}
