// SPDX-License-Identifier: MIT
#include "probes/scenario/cli.hpp"

#include <iostream>

#include <unistd.h>

#include "probes/replay/replay.hpp"
#include "probes/scenario/scenario.hpp"

namespace probes::scenario {

void add_cli(CLI::App& app, Cli& c) {
    c.scenario = app.add_subcommand(
        "scenario", "Reproduction scenarios: run, pack, unpack (docs/scenarios.md)");
    c.scenario->require_subcommand(1, 1);
    c.run = c.scenario->add_subcommand(
        "run", "Start the scenario's resolvers, run its expectations over every transport, stop");
    c.run->add_option("dir", c.dir, "Scenario folder (holds scenario.toml)")
        ->required()
        ->check(CLI::ExistingDirectory);
    c.run
        ->add_option("--transports", c.transports,
                     "Only these transports (udp,tcp,tls,https-get,https-post,https-json)")
        ->delimiter(',');
    c.run->add_flag("--json", c.json, "Machine output (schema dnslab.scenario.v1)");
    c.run->add_flag("--no-color", c.no_color, "No ANSI colours");
    c.run->add_flag("--keep", c.keep, "Keep the work directory (configs, logs) and print its path");
    c.run->add_option("--resolver", c.resolver_bin,
                      "dnslab-resolver binary (default: next to dnslab-probe, $DNSLAB_RESOLVER)");
    c.pack = c.scenario->add_subcommand("pack",
                                        "Pack a scenario folder into one tar.gz with a manifest");
    c.pack->add_option("dir", c.dir, "Scenario folder")->required()->check(CLI::ExistingDirectory);
    c.pack->add_option("-o,--output", c.out, "Archive to write (FILE.tar.gz)")->required();
    c.pack->add_option("--resolver", c.resolver_bin, "dnslab-resolver binary");
    c.pack->add_flag("--no-start", c.no_probe_behaviour,
                     "Take the behaviour settings from the config instead of starting the lab");
    c.unpack = c.scenario->add_subcommand(
        "unpack", "Verify a scenario archive against its manifest and unpack it");
    c.unpack->add_option("file", c.archive, "Archive (.tar.gz)")
        ->required()
        ->check(CLI::ExistingFile);
    c.unpack->add_option("-C,--directory", c.dest, "Unpack under this directory (default .)");

    c.replay = app.add_subcommand("replay",
                                  "Re-ask the queries of a gateway_dns log through a scenario and "
                                  "compare decisions (docs/replay.md)");
    c.replay->add_option("logfile", c.logfile, "gateway_dns export, JSON lines (gzip or not)")
        ->required()
        ->check(CLI::ExistingFile);
    c.replay->add_option("--scenario", c.dir, "Scenario folder")
        ->required()
        ->check(CLI::ExistingDirectory);
    c.replay->add_flag("--json", c.json, "Machine output (schema dnslab.replay.v1)");
    c.replay->add_option("--concurrency", c.concurrency, "Queries in flight")
        ->check(CLI::Range(1U, 4096U));
    c.replay->add_option("--limit", c.limit, "Replay at most N records (0 = all)");
    c.replay->add_option("--timeout", c.timeout_ms, "Per-query timeout in ms")
        ->check(CLI::Range(1U, 60000U));
    c.replay->add_option(
        "--protocol", c.protocol,
        "Ask every record over this protocol instead of the logged one (udp, tcp, tls, https)");
    c.replay->add_flag("--keep", c.keep, "Keep the work directory and print its path");
    c.replay->add_option("--resolver", c.resolver_bin, "dnslab-resolver binary");
}

bool parsed(const Cli& c) {
    return c.scenario->parsed() || c.replay->parsed();
}

int run_cli(const Cli& c) {
    StartOptions start;
    // Absolute: the resolvers run from the scenario copy, not from here.
    start.resolver_bin = c.resolver_bin.empty()
                             ? default_resolver_bin()
                             : std::filesystem::absolute(c.resolver_bin).string();
    start.keep = c.keep;
    if (c.run->parsed()) {
        RunOptions o;
        o.start = start;
        o.json = c.json;
        o.color = !c.no_color && !c.json && isatty(STDOUT_FILENO) != 0;
        o.transports = c.transports;
        return run_scenario(c.dir, o);
    }
    if (c.pack->parsed()) {
        std::string summary;
        if (auto st = pack_scenario(c.dir, c.out, start, !c.no_probe_behaviour, summary); !st) {
            std::cerr << "dnslab-probe scenario pack: " << st.error().detail << "\n";
            return 2;
        }
        std::cout << summary << "\n";
        return 0;
    }
    if (c.unpack->parsed()) {
        auto dir = unpack_scenario(c.archive, c.dest);
        if (!dir) {
            std::cerr << "dnslab-probe scenario unpack: " << dir.error().detail << "\n";
            return 2;
        }
        std::cout << dir->string() << "\n";
        return 0;
    }
    if (c.replay->parsed()) {
        replay::Options o;
        o.start = start;
        o.logfile = c.logfile;
        o.scenario = c.dir;
        o.json = c.json;
        o.concurrency = c.concurrency;
        o.limit = c.limit;
        o.timeout_ms = c.timeout_ms;
        o.protocol = c.protocol;
        return replay::run_replay(o);
    }
    return 2;
}

} // namespace probes::scenario
