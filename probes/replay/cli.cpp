// SPDX-License-Identifier: MIT
#include "probes/replay/cli.hpp"

#include <filesystem>

#include "probes/replay/replay.hpp"
#include "probes/report/formats.hpp"
#include "probes/scenario/scenario.hpp"

namespace probes::replay {

void add_cli(CLI::App& app, Cli& c) {
    c.cmd = app.add_subcommand("replay",
                               "Re-ask the queries of a gateway_dns log through a scenario and "
                               "compare decisions (docs/replay.md)");
    c.cmd->add_option("logfile", c.logfile, "gateway_dns export, JSON lines (gzip or not)")
        ->required()
        ->check(CLI::ExistingFile);
    c.cmd->add_option("--scenario", c.scenario, "Scenario folder")
        ->required()
        ->check(CLI::ExistingDirectory);
    c.cmd->add_flag("--json", c.json, "Machine output (schema dnslab.replay.v1)");
    c.cmd->add_option("--junit", c.junit, "Also write JUnit XML to FILE (one case per record)");
    c.cmd
        ->add_option("--html", c.html,
                     "Also write the report as one self-contained HTML page to FILE")
        ->type_name("FILE");
    c.cmd->add_option("--report", c.reports,
                      "Also write FORMAT=FILE (FILE '-' is stdout); formats: " +
                          report::format_names());
    c.cmd->add_option("--concurrency", c.concurrency, "Queries in flight")
        ->check(CLI::Range(1U, 4096U));
    c.cmd->add_option("--limit", c.limit, "Replay at most N records (0 = all)");
    c.cmd->add_option("--timeout", c.timeout_ms, "Per-query timeout in ms")
        ->check(CLI::Range(1U, 60000U));
    c.cmd->add_option(
        "--protocol", c.protocol,
        "Ask every record over this protocol instead of the logged one (udp, tcp, tls, https)");
    c.cmd->add_flag("--child-resolver", c.child_resolver,
                    "Ask a child dnslab-resolver over loopback sockets even when the scenario "
                    "can be answered in process (one fixture upstream, no helpers)");
    c.cmd->add_flag("--keep", c.keep, "Keep the work directory and print its path");
    c.cmd->add_option("--resolver", c.resolver_bin, "dnslab-resolver binary");
}

int run_cli(const Cli& c) {
    Options o;
    // Absolute: the resolvers run from the scenario copy, not from here.
    o.start.resolver_bin = c.resolver_bin.empty()
                               ? scenario::default_resolver_bin()
                               : std::filesystem::absolute(c.resolver_bin).string();
    o.start.keep = c.keep;
    o.logfile = c.logfile;
    o.scenario = c.scenario;
    o.json = c.json;
    o.junit = c.junit;
    o.html = c.html;
    o.reports = c.reports;
    o.concurrency = c.concurrency;
    o.limit = c.limit;
    o.timeout_ms = c.timeout_ms;
    o.protocol = c.protocol;
    o.child_resolver = c.child_resolver;
    return run_replay(o);
}

} // namespace probes::replay
