// SPDX-License-Identifier: MIT
#pragma once
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "probes/selftest/selftest.hpp"

namespace probes::selftest {

/// Flags of `dnslab-probe selftest`, `selftest diff` and `selftest show`.
struct Cli {
    Options opts;
    std::string out_dir; // report.json, report.md, report.html, summary.txt
    std::string bundle;  // .tar.gz of the above
    bool redact = false;
    bool json = false; // report.json on stdout instead of the summary
    bool no_color = false;
    bool quiet = false;               // no progress line
    std::vector<std::string> reports; // --report FORMAT=FILE
    std::string html;                 // --html FILE (selftest and diff)
    std::string diff_a, diff_b;
    std::string shown; // `selftest show REPORT.json`
    CLI::App* cmd = nullptr;
    CLI::App* diff = nullptr;
    CLI::App* show = nullptr;
};

/// Registers `selftest` (and its `diff` subcommand) on `app`.
void add_cli(CLI::App& app, Cli& cli);

/// Registers the self-test's options and its `diff` subcommand on `app` itself: the
/// `selftest` subcommand of dnslab-probe, or the top level of the standalone
/// dnslab-selftest binary (probes/selftest/standalone.cpp).
void add_options(CLI::App& app, Cli& cli);

/// The --help footer written for a customer: what is checked, what is sent to whom, what is
/// written and what to attach to the ticket.
std::string customer_help();

/// Runs the parsed subcommand. Exit codes: 0 every check passed (or reports equal),
/// 1 a check failed (or reports differ), 2 the self-test could not run.
int run_cli(Cli& cli);

} // namespace probes::selftest
