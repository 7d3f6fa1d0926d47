// SPDX-License-Identifier: MIT
// dnslab-probe: the same question over every transport to every target, a normalised diff,
// expectation checks, the customer self-test, reproduction scenarios and log replay.
// Composition root: registers each subcommand's flags and runs the one that was parsed.
#include <csignal>

#include <CLI/CLI.hpp>

#include "probes/gateway_export/cli.hpp"
#include "probes/matrix/cli.hpp"
#include "probes/replay/cli.hpp"
#include "probes/scenario/cli.hpp"
#include "probes/selftest/cli.hpp"
#include "resolver/app/cli_doc.hpp"

namespace {
constexpr int kExitUsage = 2;

// The man page beyond the flags (resolver/app/cli_doc.hpp).
std::vector<std::pair<std::string, std::string>> man_sections() {
    return {
        {"Examples", "The same question over plain DNS, DoT and DoH of the lab, answers diffed:\n"
                     "  dnslab-probe --host '127.0.0.1:udp=5353,tcp=5353,tls=8853,https=8443' \\\n"
                     "    --ca ~/.cache/dnslab/ca.pem www.example.com A\n"
                     "\n"
                     "dig-style, plain DNS over UDP and TCP, as a client of a branch network:\n"
                     "  dnslab-probe @127.0.0.1:5353 -b 127.0.1.5 www.example.com +short\n"
                     "\n"
                     "A customer's self-test against their Gateway location:\n"
                     "  dnslab-probe selftest --location SUB --ipv4 ADDR --redact"},
        {"Exit status", "Query matrix and check: 0 every question identical or equivalent "
                        "(every expectation holds), 1 they differ (an expectation fails), 2 bad "
                        "flags or input. selftest: 0 every check passed, 1 a check failed, 2 it "
                        "could not run. selftest diff: 0 equal, 1 different, 2 unreadable."},
        {"Environment", "DNSLAB_RESOLVER: the dnslab-resolver that scenario runs (default: "
                        "next to dnslab-probe). DNSLAB_READY_FILE: the lab ready file selftest "
                        "reads by default. NO_COLOR: no colours. SSL_CERT_FILE, SSL_CERT_DIR: "
                        "the trust store for tls:// and https:// targets without --ca. "
                        "SSLKEYLOGFILE: TLS session keys for Wireshark."},
        {"Files", "/usr/share/dnslab: fixture zones, scenarios, expectation files and the "
                  "self-test report schema (selftest/report.schema.json)."},
        {"See also", "dnslab-resolver(1), kdig(1), dig(1). dnslab-selftest, installed next "
                     "to dnslab-probe, runs dnslab-probe selftest. In the source repository: "
                     "docs/probe.md, docs/selftest.md, docs/scenarios.md."},
    };
}

} // namespace

int main(int argc, char** argv) {
    std::signal(SIGPIPE, SIG_IGN); // a closed TLS/TCP peer must not kill the probe
    CLI::App app{
        "dnslab-probe: ask one question over every transport and target, diff the answers"};
    app.set_version_flag("--version", "dnslab-probe 0.1.0");
    probes::matrix::Cli matrix; // the default command and `check`: probes/matrix/, probes/check/
    probes::matrix::add_cli(app, matrix);
    probes::selftest::Cli selftest; // issue 6: probes/selftest/, docs/selftest.md
    probes::selftest::add_cli(app, selftest);
    probes::scenario::Cli scenario; // issue 7: probes/scenario/, docs/scenarios.md
    probes::scenario::add_cli(app, scenario);
    probes::replay::Cli replay; // issue 7: probes/replay/, docs/replay.md
    probes::replay::add_cli(app, replay);
    probes::gateway_export::Cli gateway_export; // issue 17: probes/gateway_export/
    probes::gateway_export::add_cli(app, gateway_export);
    app.require_subcommand(0, 1);
    resolver::app::add_doc_flags(app, {"dnslab-probe", "0.1.0", man_sections()});
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::Success& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        (void)app.exit(e);
        return kExitUsage;
    }
    if (scenario.scenario->parsed()) {
        return probes::scenario::run_cli(scenario); // starts and stops its own resolvers
    }
    if (replay.cmd->parsed()) {
        return probes::replay::run_cli(replay);
    }
    if (gateway_export.cmd->parsed()) {
        return probes::gateway_export::run_cli(gateway_export); // docs/gateway-export.md
    }
    if (selftest.cmd->parsed()) {
        return probes::selftest::run_cli(selftest); // its own session, targets and reports
    }
    return probes::matrix::run_cli(matrix);
}
