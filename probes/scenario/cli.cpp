// SPDX-License-Identifier: MIT
#include "probes/scenario/cli.hpp"

#include <iostream>

#include <unistd.h>

#include "probes/report/formats.hpp"
#include "probes/scenario/scenario.hpp"

namespace probes::scenario {

void add_cli(CLI::App& app, Cli& c) {
    c.scenario = app.add_subcommand(
        "scenario", "Reproduction scenarios: new, run, pack, unpack (docs/scenarios.md)");
    c.scenario->require_subcommand(1, 1);
    c.create = c.scenario->add_subcommand(
        "new", "Write a scenario skeleton that `scenario run DIR` passes as written");
    c.create->add_option("dir", c.dir, "Folder to create (may exist only when empty)")->required();
    c.create->add_option("--description", c.description,
                         "The customer's symptom in one line (scenario.toml, README.md)");
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
    c.run->add_option("--junit", c.junit, "Also write JUnit XML to FILE (one case per target)");
    c.run
        ->add_option("--html", c.html,
                     "Also write the report as one self-contained HTML page to FILE")
        ->type_name("FILE");
    c.run->add_option("--report", c.reports,
                      "Also write FORMAT=FILE (FILE '-' is stdout); formats: " +
                          report::format_names());
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
        o.color = !c.json && report::use_color(c.no_color, STDOUT_FILENO);
        o.junit = c.junit;
        o.html = c.html;
        o.reports = c.reports;
        o.transports = c.transports;
        return run_scenario(c.dir, o);
    }
    if (c.create->parsed()) {
        auto files = new_scenario(c.dir, c.description);
        if (!files) {
            std::cerr << "dnslab-probe scenario new: " << files.error().detail << "\n";
            return 2;
        }
        std::cout << "wrote " << c.dir << ":";
        for (const auto& f : *files) {
            std::cout << " " << f;
        }
        std::cout << "\nnext: dnslab-probe scenario run " << c.dir
                  << "   (edit answers.txt, the exports and expect.toml; shipping it in "
                     "fixtures/scenarios? add its row to the index in README.md there)\n";
        return 0;
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
    return 2;
}

} // namespace probes::scenario
