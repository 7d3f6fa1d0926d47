// SPDX-License-Identifier: MIT
// dnslab-probe: the same question over every transport to every target, a normalised diff,
// and expectation checks. Composition root: parses flags, builds targets, runs the engine.
#include <unistd.h>

#include <csignal>
#include <fstream>
#include <iostream>
#include <sstream>

#include <CLI/CLI.hpp>
#include <openssl/rand.h>
#include <uv.h>

#include "resolver/app/cli_doc.hpp"
#include "resolver/util/file.hpp"
#include "probes/check/run.hpp"
#include "probes/common/pcap.hpp"
#include "probes/common/query.hpp"
#include "probes/common/targets.hpp"
#include "probes/gateway_export/cli.hpp"
#include "probes/matrix/engine.hpp"
#include "probes/matrix/report.hpp"
#include "probes/matrix/run.hpp"
#include "probes/scenario/cli.hpp"
#include "probes/selftest/cli.hpp"
#include "resolver/wire/message.hpp"

namespace {
namespace common = probes::common;
namespace wire = resolver::wire;

constexpr int kExitDiffer = 1;
constexpr int kExitUsage = 2;

using resolver::util::read_file;

// The man page beyond the flags (resolver/app/cli_doc.hpp).
std::vector<std::pair<std::string, std::string>> man_sections() {
    return {
        {"Examples",
         "The same question over plain DNS, DoT and DoH of the lab, answers diffed:\n"
         "  dnslab-probe --host '127.0.0.1:udp=5353,tcp=5353,tls=8853,https=8443' \\\n"
         "    --ca ~/.cache/dnslab/ca.pem www.example.com A\n"
         "\n"
         "A customer's self-test against their Gateway location:\n"
         "  dnslab-probe selftest --doh https://SUB.cloudflare-gateway.com/dns-query \\\n"
         "    --dot SUB.cloudflare-gateway.com --ipv4 ADDR --redact"},
        {"Exit status", "Query matrix and check: 0 every target agrees (every expectation "
                        "holds), 1 they differ (an expectation fails), 2 bad flags or input. "
                        "selftest: 0 every check passed, 1 a check failed, 2 it could not run. "
                        "selftest diff: 0 equal, 1 different, 2 unreadable."},
        {"Environment", "DNSLAB_RESOLVER: the dnslab-resolver that scenario runs (default: "
                        "next to dnslab-probe). SSL_CERT_FILE, SSL_CERT_DIR: the trust store "
                        "for tls:// and https:// targets without --ca. SSLKEYLOGFILE: TLS "
                        "session keys for Wireshark."},
        {"Files", "/usr/share/dnslab: fixture zones, scenarios, expectation files and the "
                  "self-test report schema (selftest/report.schema.json)."},
        {"See also", "dnslab-resolver(1), kdig(1), dig(1). dnslab-selftest, installed next "
                     "to dnslab-probe, runs dnslab-probe selftest. In the source repository: "
                     "docs/probe.md, docs/selftest.md, docs/scenarios.md."},
    };
}

int usage_error(const std::string& msg) {
    std::cerr << "dnslab-probe: " << msg << "\n";
    return kExitUsage;
}

struct Flags {
    std::string qname, qtype;
    std::vector<std::string> targets, hosts, headers, opts, ignore;
    std::string targets_file, question_file, pcap_in, pcap_out, junit, ca, ecs, location,
        check_file;
    bool do_bit = false, cd = false, no_edns = false, padding = false, nsid = false, cookie = false;
    bool json = false, no_color = false, norecurse = false, ttl_strict = false;
    unsigned bufsize = 1232, timeout_ms = 2000, retries = 1, repeat = 1, ttl_tolerance = 5;
};

} // namespace

int main(int argc, char** argv) {
    std::signal(SIGPIPE, SIG_IGN); // a closed TLS/TCP peer must not kill the probe
    Flags f;
    CLI::App app{
        "dnslab-probe: ask one question over every transport and target, diff the answers"};
    app.set_version_flag("--version", "dnslab-probe 0.1.0");
    app.add_option("qname", f.qname, "Query name");
    app.add_option("qtype", f.qtype, "Query type (default A)");
    app.add_option("--target,-t", f.targets,
                   "Target URL or name=URL (udp://, tcp://, tls://, https://, lab://)");
    app.add_option("--targets", f.targets_file, "File with one target per line")
        ->check(CLI::ExistingFile);
    app.add_option("--host", f.hosts,
                   "ADDR[:PORT] or ADDR:udp=P,tcp=P,tls=P,https=P, all transports of one host");
    app.add_flag("--do", f.do_bit, "Set the DNSSEC OK bit");
    app.add_flag("--cd", f.cd, "Set the CD bit");
    app.add_flag("--norecurse", f.norecurse, "Clear the RD bit");
    app.add_option("--bufsize", f.bufsize, "EDNS UDP payload size")
        ->check(CLI::Range(512U, 65535U));
    app.add_flag("--no-edns", f.no_edns, "Send no OPT record");
    app.add_option("--ecs", f.ecs, "EDNS Client Subnet, e.g. 192.0.2.0/24");
    app.add_flag("--padding", f.padding, "EDNS padding to 128-octet blocks");
    app.add_flag("--nsid", f.nsid, "Ask for the NSID");
    app.add_flag("--cookie", f.cookie, "Send a random client cookie");
    app.add_option("--opt", f.opts, "Raw EDNS option CODE:HEX (e.g. 65050:...)");
    app.add_option("--location", f.location, "Gateway location subdomain (EDNS 65011)");
    app.add_option("--header", f.headers, "DoH request header 'name: value'");
    app.add_option("--ca", f.ca, "CA file for tls:// and https:// targets");
    app.add_option("--timeout", f.timeout_ms, "Per-attempt timeout in ms")
        ->check(CLI::Range(1U, 600000U));
    app.add_option("--retries", f.retries, "Retries after the first attempt")
        ->check(CLI::Range(0U, 10U));
    app.add_option("--repeat", f.repeat, "Passes: 1 cold, then warm (connection reuse, caches)")
        ->check(CLI::Range(1U, 1000U));
    app.add_option("-f,--questions", f.question_file,
                   "Question list, 'name type' per line (dnsperf)")
        ->check(CLI::ExistingFile);
    app.add_option("--pcap-in", f.pcap_in, "Replay the questions of the queries in a pcap")
        ->check(CLI::ExistingFile);
    app.add_option("--pcap", f.pcap_out,
                   "Write every exchanged DNS message to a pcap (DNS over UDP)");
    app.add_option("--ignore", f.ignore, "Fields not to compare (e.g. flags.aa, edns, additional)")
        ->delimiter(',');
    app.add_option("--ttl-tolerance", f.ttl_tolerance, "TTL differences up to N seconds are equal");
    app.add_flag("--ttl-strict", f.ttl_strict,
                 "Report TTL gaps beyond the tolerance instead of explaining them as cache ageing");
    app.add_flag("--json", f.json, "Machine output (schema dnslab.probe.v1)");
    app.add_option("--junit", f.junit, "Also write JUnit XML to FILE");
    app.add_flag("--no-color", f.no_color, "No ANSI colours");
    auto* check = app.add_subcommand("check", "Run an expectation file against the targets");
    check->add_option("file", f.check_file, "TOML expectation file")
        ->required()
        ->check(CLI::ExistingFile);
    check->fallthrough();
    probes::selftest::Cli selftest; // issue 6: probes/selftest/, docs/selftest.md
    probes::selftest::add_cli(app, selftest);
    probes::scenario::Cli scenario; // issue 7: probes/scenario/, probes/replay/, docs/scenarios.md
    probes::scenario::add_cli(app, scenario);
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
    if (probes::scenario::parsed(scenario)) {
        return probes::scenario::run_cli(scenario); // starts and stops its own resolvers
    }
    if (gateway_export.cmd->parsed()) {
        return probes::gateway_export::run_cli(gateway_export); // docs/gateway-export.md
    }
    if (selftest.cmd->parsed()) {
        return probes::selftest::run_cli(selftest); // its own loop, targets and reports
    }

    // Targets.
    std::vector<common::Target> targets;
    for (const auto& spec : f.targets) {
        auto t = common::parse_target(spec);
        if (!t) {
            return usage_error(t.error().detail);
        }
        targets.insert(targets.end(), t->begin(), t->end());
    }
    for (const auto& spec : f.hosts) {
        auto t = common::parse_host(spec);
        if (!t) {
            return usage_error(t.error().detail);
        }
        targets.insert(targets.end(), t->begin(), t->end());
    }
    if (!f.targets_file.empty()) {
        auto text = read_file(f.targets_file);
        auto t = text ? common::parse_targets_file(*text)
                      : resolver::Result<std::vector<common::Target>>(
                            resolver::fail(resolver::Errc::ConfigInvalid, "cannot read"));
        if (!t) {
            return usage_error(f.targets_file + ": " + t.error().detail);
        }
        targets.insert(targets.end(), t->begin(), t->end());
    }
    if (targets.empty()) {
        return usage_error("no targets: give --target URL, --host ADDR or --targets FILE");
    }
    std::vector<std::pair<std::string, std::string>> headers;
    for (const auto& h : f.headers) {
        auto colon = h.find(':');
        if (colon == std::string::npos || colon == 0) {
            return usage_error("bad --header '" + h + "': want 'name: value'");
        }
        std::string name = h.substr(0, colon);
        std::transform(name.begin(), name.end(), name.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        auto value = h.substr(colon + 1);
        value.erase(0, value.find_first_not_of(' '));
        headers.emplace_back(name, value);
    }
    common::finalize_targets(targets, f.ca, headers);

    // Query knobs.
    common::QueryOptions q;
    q.rd = !f.norecurse;
    q.cd = f.cd;
    q.dnssec_ok = f.do_bit;
    q.no_edns = f.no_edns;
    q.bufsize = static_cast<std::uint16_t>(f.bufsize);
    q.padding = f.padding;
    q.nsid = f.nsid;
    q.location = f.location;
    if (!f.ecs.empty()) {
        if (auto e = common::ecs_option_data(f.ecs); !e) {
            return usage_error(e.error().detail);
        }
        q.ecs = f.ecs;
    }
    if (f.cookie) {
        std::string c(8, '\0');
        if (RAND_bytes(reinterpret_cast<unsigned char*>(c.data()), 8) != 1) {
            return usage_error("no randomness for --cookie");
        }
        q.cookie = c;
    }
    for (const auto& o : f.opts) {
        auto opt = common::parse_raw_option(o);
        if (!opt) {
            return usage_error(opt.error().detail);
        }
        q.raw.push_back(*opt);
    }
    if (q.no_edns && (q.dnssec_ok || q.padding || q.nsid || !q.ecs.empty() || !q.cookie.empty() ||
                      !q.location.empty() || !q.raw.empty())) {
        return usage_error("--no-edns conflicts with EDNS options");
    }

    std::unique_ptr<common::PcapWriter> pcap;
    if (!f.pcap_out.empty()) {
        auto w = common::PcapWriter::open(f.pcap_out);
        if (!w) {
            return usage_error(w.error().detail);
        }
        pcap = std::move(w).value();
    }

    resolver::upstream::UpstreamOptions uopts;
    uopts.timeout_ms = f.timeout_ms;
    uopts.connect_timeout_ms = f.timeout_ms;
    uopts.tries = f.retries + 1;
    uv_loop_t loop;
    uv_loop_init(&loop);
    const bool color = !f.no_color && !f.json && isatty(STDOUT_FILENO) != 0;
    int rc = 0;
    probes::matrix::Engine engine(&loop, uopts);
    // Every path out of `run` (including usage errors found late) ends in the one cleanup
    // below, so the engine's upstreams are closed before the loop.
    auto run = [&]() -> int {
        int status = 0;
        std::string junit;
        if (check->parsed()) {
            auto text = read_file(f.check_file);
            auto cases = text ? probes::check::parse_cases(*text)
                              : resolver::Result<std::vector<probes::check::Case>>(
                                    resolver::fail(resolver::Errc::ConfigInvalid, "cannot read"));
            if (!cases) {
                return usage_error(f.check_file + ": " + cases.error().detail);
            }
            auto report = probes::check::run_check(engine, targets, *cases, q, pcap.get());
            if (f.json) {
                std::cout << probes::check::check_json(report).dump(2) << "\n";
            } else {
                std::cout << probes::check::render_check_table(report, color);
            }
            junit = probes::check::check_junit(report);
            status = report.all_pass() ? 0 : kExitDiffer;
        } else {
            std::vector<common::QuestionSpec> questions;
            if (!f.qname.empty()) {
                common::QuestionSpec one{f.qname, wire::rrtype::A};
                if (!f.qtype.empty()) {
                    auto t = wire::type_from_name(f.qtype);
                    if (!t) {
                        return usage_error("unknown query type '" + f.qtype + "'");
                    }
                    one.type = *t;
                }
                if (!wire::Name::from_text(one.name)) {
                    return usage_error("bad query name '" + one.name + "'");
                }
                questions.push_back(one);
            }
            if (!f.question_file.empty()) {
                auto text = read_file(f.question_file);
                auto list = common::parse_question_list(text.value_or(""));
                if (!list) {
                    return usage_error(f.question_file + ": " + list.error().detail);
                }
                questions.insert(questions.end(), list->begin(), list->end());
            }
            if (!f.pcap_in.empty()) {
                auto list = common::read_pcap_questions(f.pcap_in);
                if (!list) {
                    return usage_error(list.error().detail);
                }
                questions.insert(questions.end(), list->begin(), list->end());
            }
            if (questions.empty()) {
                return usage_error("no question: give QNAME [QTYPE], -f FILE or --pcap-in FILE");
            }
            probes::compare::CompareOptions copts;
            copts.ttl_tolerance = f.ttl_tolerance;
            copts.ttl_strict = f.ttl_strict;
            copts.ignore = {f.ignore.begin(), f.ignore.end()};
            auto report = probes::matrix::run_matrix(engine, targets, questions, q, copts, f.repeat,
                                                     pcap.get());
            if (f.json) {
                std::cout << probes::matrix::to_json(report).dump(2) << "\n";
            } else {
                std::cout << probes::matrix::render_table(report, color);
            }
            junit = probes::matrix::to_junit(report);
            status = report.all_agree() ? 0 : kExitDiffer;
        }
        if (!f.junit.empty()) {
            std::ofstream out(f.junit);
            out << junit;
            if (!out) {
                status = usage_error("cannot write " + f.junit);
            }
        }
        return status;
    };
    rc = run();
    engine.close();
    pcap.reset();
    uv_run(&loop, UV_RUN_NOWAIT);
    if (uv_loop_close(&loop) != 0) {
        // A client left a handle open; the process ends anyway, so only say so.
        std::cerr << "dnslab-probe: warning: loop not empty at exit\n";
    }
    return rc;
}
