// SPDX-License-Identifier: MIT
#pragma once
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace probes::matrix {

/// Flags of the query matrix (`dnslab-probe QNAME [QTYPE] ...`, the default command) and of
/// `dnslab-probe check FILE`, which shares the target, query and output flags.
struct Cli {
    std::vector<std::string> words; // QNAME [QTYPE], @SERVER, +short (dig habits)
    std::vector<std::string> targets, hosts, headers, opts, ignore, reports;
    std::string targets_file, question_file, pcap_in, pcap_out, junit, html, ca, ecs, location,
        source;
    std::string check_file, lab_log, locations;
    bool do_bit = false, cd = false, no_edns = false, padding = false, nsid = false, cookie = false;
    bool json = false, no_color = false, norecurse = false, ttl_strict = false, strict = false;
    unsigned bufsize = 1232, timeout_ms = 2000, retries = 1, repeat = 1, ttl_tolerance = 5;
    CLI::App* check = nullptr;
};

/// Registers the matrix flags on `app` and the `check` subcommand with the flags it shares.
void add_cli(CLI::App& app, Cli& cli);

/// Runs the matrix, or `check` when it was parsed. Exit codes: 0 every question identical or
/// equivalent / every case passed, 1 a difference or a failed case, 2 usage or runtime error.
int run_cli(const Cli& cli);

} // namespace probes::matrix
