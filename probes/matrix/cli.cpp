// SPDX-License-Identifier: MIT
#include "probes/matrix/cli.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <thread>

#include <openssl/rand.h>

#include "probes/check/attribution.hpp"
#include "probes/check/report.hpp"
#include "probes/common/pcap.hpp"
#include "probes/common/query.hpp"
#include "probes/common/targets.hpp"
#include "probes/matrix/report.hpp"
#include "probes/matrix/run.hpp"
#include "probes/report/formats.hpp"
#include "probes/session/session.hpp"
#include "resolver/util/file.hpp"
#include "resolver/util/url.hpp"
#include "resolver/wire/message.hpp"

namespace probes::matrix {
namespace {
namespace common = probes::common;
namespace wire = resolver::wire;
using resolver::util::read_file;

constexpr int kExitDiffer = 1;
constexpr int kExitUsage = 2;

int usage_error(const std::string& msg) {
    std::cerr << "dnslab-probe: " << msg << "\n";
    return kExitUsage;
}

// Options both the matrix and `check` accept, registered on each so `check --help` lists
// them (CLI11 shows a subcommand's own options only).
void add_shared(CLI::App* app, Cli& f) {
    // One value per occurrence (repeat the flag): a greedy vector option would swallow the
    // question words that follow it (`--target X www.example.com +short`).
    app->add_option("--target,-t", f.targets,
                    "Target URL or name=URL (udp://, tcp://, tls://, https://, lab://), or a "
                    "bare IP[:PORT] for plain DNS over UDP and TCP")
        ->allow_extra_args(false);
    app->add_option("--targets", f.targets_file, "File with one target per line")
        ->check(CLI::ExistingFile);
    app->add_option("--host", f.hosts,
                    "ADDR[:PORT] or ADDR:udp=P,tcp=P,tls=P,https=P, all transports of one host")
        ->allow_extra_args(false);
    app->add_option("-b,--source", f.source,
                    "Send plain DNS (udp, tcp) from this local address, like kdig -b")
        ->check(CLI::Validator(
            [](std::string& s) {
                return resolver::util::is_ip_literal(s) ? std::string()
                                                        : "'" + s + "' is not an IP address";
            },
            "ADDR"));
    app->add_flag("--do", f.do_bit, "Set the DNSSEC OK bit");
    app->add_flag("--cd", f.cd, "Set the CD bit");
    app->add_flag("--norecurse", f.norecurse, "Clear the RD bit");
    app->add_option("--bufsize", f.bufsize, "EDNS UDP payload size")
        ->check(CLI::Range(512U, 65535U));
    app->add_flag("--no-edns", f.no_edns, "Send no OPT record");
    app->add_option("--ecs", f.ecs, "EDNS Client Subnet, e.g. 192.0.2.0/24");
    app->add_flag("--padding", f.padding, "EDNS padding to 128-octet blocks");
    app->add_flag("--nsid", f.nsid, "Ask for the NSID");
    app->add_flag("--cookie", f.cookie, "Send a random client cookie");
    app->add_option("--opt", f.opts, "Raw EDNS option CODE:HEX (e.g. 65050:...)")
        ->allow_extra_args(false);
    app->add_option("--location", f.location, "Gateway location subdomain (EDNS 65011)");
    app->add_option("--header", f.headers, "DoH request header 'name: value'")
        ->allow_extra_args(false);
    app->add_option("--ca", f.ca, "CA file for tls:// and https:// targets");
    app->add_option("--timeout", f.timeout_ms, "Per-attempt timeout in ms")
        ->check(CLI::Range(1U, 600000U));
    app->add_option("--retries", f.retries, "Retries after the first attempt")
        ->check(CLI::Range(0U, 10U));
    app->add_option("--pcap", f.pcap_out,
                    "Write every exchanged DNS message to a pcap (DNS over UDP)");
    app->add_flag("--json", f.json, "Machine output on stdout instead of the table");
    app->add_option("--junit", f.junit, "Also write JUnit XML to FILE");
    app->add_option("--html", f.html,
                    "Also write the report as one self-contained HTML page to FILE")
        ->type_name("FILE");
    app->add_option("--report", f.reports,
                    "Also write FORMAT=FILE (FILE '-' is stdout); formats: " +
                        report::format_names())
        ->allow_extra_args(false);
    app->add_flag("--no-color", f.no_color, "No ANSI colours (also: NO_COLOR set)");
}

resolver::Result<std::vector<common::Target>> collect_targets(const Cli& f,
                                                              const common::DigWords& dig) {
    std::vector<common::Target> targets;
    auto add = [&](const resolver::Result<std::vector<common::Target>>& t) -> resolver::Status {
        if (!t) {
            return t.error();
        }
        targets.insert(targets.end(), t->begin(), t->end());
        return resolver::ok();
    };
    for (const auto& spec : dig.servers) {
        if (auto st = add(common::parse_target(spec)); !st) {
            return st.error();
        }
    }
    for (const auto& spec : f.targets) {
        if (auto st = add(common::parse_target(spec)); !st) {
            return st.error();
        }
    }
    for (const auto& spec : f.hosts) {
        if (auto st = add(common::parse_host(spec)); !st) {
            return st.error();
        }
    }
    if (!f.targets_file.empty()) {
        auto text = read_file(f.targets_file);
        if (!text) {
            return resolver::fail(resolver::Errc::ConfigInvalid, f.targets_file + ": cannot read");
        }
        auto t = common::parse_targets_file(*text);
        if (!t) {
            return resolver::fail(resolver::Errc::ConfigInvalid,
                                  f.targets_file + ": " + t.error().detail);
        }
        targets.insert(targets.end(), t->begin(), t->end());
    }
    if (targets.empty()) {
        return resolver::fail(resolver::Errc::ConfigInvalid,
                              "no targets: give @SERVER, --target URL, --host ADDR or "
                              "--targets FILE");
    }
    return targets;
}

resolver::Result<std::vector<std::pair<std::string, std::string>>>
parse_headers(const std::vector<std::string>& specs) {
    std::vector<std::pair<std::string, std::string>> headers;
    for (const auto& h : specs) {
        auto colon = h.find(':');
        if (colon == std::string::npos || colon == 0) {
            return resolver::fail(resolver::Errc::ConfigInvalid,
                                  "bad --header '" + h + "': want 'name: value'");
        }
        std::string name = h.substr(0, colon);
        std::transform(name.begin(), name.end(), name.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        auto value = h.substr(colon + 1);
        value.erase(0, value.find_first_not_of(' '));
        headers.emplace_back(name, value);
    }
    return headers;
}

resolver::Result<common::QueryOptions> query_options(const Cli& f) {
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
            return e.error();
        }
        q.ecs = f.ecs;
    }
    if (f.cookie) {
        std::string c(8, '\0');
        if (RAND_bytes(reinterpret_cast<unsigned char*>(c.data()), 8) != 1) {
            return resolver::fail(resolver::Errc::Internal, "no randomness for --cookie");
        }
        q.cookie = c;
    }
    for (const auto& o : f.opts) {
        auto opt = common::parse_raw_option(o);
        if (!opt) {
            return opt.error();
        }
        q.raw.push_back(*opt);
    }
    if (q.no_edns && (q.dnssec_ok || q.padding || q.nsid || !q.ecs.empty() || !q.cookie.empty() ||
                      !q.location.empty() || !q.raw.empty())) {
        return resolver::fail(resolver::Errc::ConfigInvalid,
                              "--no-edns conflicts with EDNS options");
    }
    return q;
}

resolver::Result<std::vector<common::QuestionSpec>> questions_of(const Cli& f,
                                                                 const common::DigWords& dig) {
    std::vector<common::QuestionSpec> questions;
    if (!dig.qname.empty()) {
        common::QuestionSpec one{dig.qname, wire::rrtype::A};
        if (!dig.qtype.empty()) {
            auto t = wire::type_from_name(dig.qtype);
            if (!t) {
                return resolver::fail(resolver::Errc::ConfigInvalid,
                                      "unknown query type '" + dig.qtype + "'");
            }
            one.type = *t;
        }
        if (!wire::Name::from_text(one.name)) {
            return resolver::fail(resolver::Errc::ConfigInvalid,
                                  "bad query name '" + one.name + "'");
        }
        questions.push_back(one);
    }
    if (!f.question_file.empty()) {
        auto text = read_file(f.question_file);
        auto list = common::parse_question_list(text.value_or(""));
        if (!list) {
            return resolver::fail(resolver::Errc::ConfigInvalid,
                                  f.question_file + ": " + list.error().detail);
        }
        questions.insert(questions.end(), list->begin(), list->end());
    }
    if (!f.pcap_in.empty()) {
        auto list = common::read_pcap_questions(f.pcap_in);
        if (!list) {
            return list.error();
        }
        questions.insert(questions.end(), list->begin(), list->end());
    }
    if (questions.empty()) {
        return resolver::fail(resolver::Errc::ConfigInvalid,
                              "no question: give QNAME [QTYPE], -f FILE or --pcap-in FILE");
    }
    return questions;
}

// Where the lab attributed each case: its query log, read until every query that reached it
// has its line (the log writer flushes every 200 ms, docs/query-log.md) or 3 s passed.
resolver::Status read_lab_log(const Cli& f, std::uint64_t offset, check::CheckReport& report) {
    check::LocationDirectory dir;
    if (!f.locations.empty()) {
        auto text = read_file(f.locations);
        auto parsed = text ? check::parse_locations(*text)
                           : resolver::Result<check::LocationDirectory>(
                                 resolver::fail(resolver::Errc::ConfigInvalid, "cannot read"));
        if (!parsed) {
            return resolver::fail(resolver::Errc::ConfigInvalid,
                                  f.locations + ": " + parsed.error().detail);
        }
        dir = std::move(parsed).value();
    }
    const auto asked = static_cast<std::size_t>(
        std::count_if(report.results.begin(), report.results.end(),
                      [](const check::CaseResult& r) { return r.asked && !r.observation.error; }));
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
    auto records = check::read_log(f.lab_log, offset);
    while (check::count_matches(report, records) < asked &&
           std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        records = check::read_log(f.lab_log, offset);
    }
    check::apply_lab_log(report, records, dir);
    return resolver::ok();
}

// The outputs asked for: stdout (table, +short view or --json), --junit, --html, --report.
int emit(const report::Document& doc, const Cli& f) {
    auto outputs = report::requested_outputs(f.json ? "json" : "text", f.junit, f.html, f.reports);
    if (!outputs) {
        return usage_error(outputs.error().detail);
    }
    const bool color = !f.json && report::use_color(f.no_color, STDOUT_FILENO);
    if (auto st = report::write_outputs(doc, *outputs, {color, false}); !st) {
        return usage_error(st.error().detail);
    }
    return doc.exit_code == 0 ? 0 : kExitDiffer;
}

int run_check_file(const Cli& f, session::ProbeSession& session,
                   const std::vector<common::Target>& targets, const common::QueryOptions& q,
                   common::PcapWriter* pcap) {
    auto text = read_file(f.check_file);
    auto cases = text ? check::parse_cases(*text)
                      : resolver::Result<std::vector<check::Case>>(
                            resolver::fail(resolver::Errc::ConfigInvalid, "cannot read"));
    if (!cases) {
        return usage_error(f.check_file + ": " + cases.error().detail);
    }
    // Lines the lab logged before this run are not this run's: read only what follows.
    const auto offset = f.lab_log.empty() ? 0 : check::log_offset(f.lab_log);
    auto report = check::run_check(session, targets, *cases, q, pcap);
    if (!f.lab_log.empty()) {
        if (auto st = read_lab_log(f, offset, report); !st) {
            return usage_error(st.error().detail);
        }
    }
    return emit(check::to_document(report), f);
}

} // namespace

void add_cli(CLI::App& app, Cli& f) {
    app.add_option("words", f.words,
                   "QNAME [QTYPE], @SERVER (a target; a bare IP[:PORT] is UDP and TCP) and "
                   "+short, as dig takes them");
    add_shared(&app, f);
    app.add_option("--repeat", f.repeat, "Passes: 1 cold, then warm (connection reuse, caches)")
        ->check(CLI::Range(1U, 1000U));
    app.add_option("-f,--questions", f.question_file,
                   "Question list, 'name type' per line (dnsperf)")
        ->check(CLI::ExistingFile);
    app.add_option("--pcap-in", f.pcap_in, "Replay the questions of the queries in a pcap")
        ->check(CLI::ExistingFile);
    app.add_option("--ignore", f.ignore, "Fields not to compare (e.g. flags.aa, edns, additional)")
        ->delimiter(',')
        ->allow_extra_args(false);
    app.add_flag("--strict", f.strict,
                 "Every field is a difference (no 'equivalent': AA, RA, authority, additional, "
                 "EDNS differences make answers differ)");
    app.add_option("--ttl-tolerance", f.ttl_tolerance, "TTL differences up to N seconds are equal");
    app.add_flag("--ttl-strict", f.ttl_strict,
                 "Report TTL gaps beyond the tolerance instead of explaining them as cache ageing");
    f.check = app.add_subcommand("check", "Run an expectation file against the targets");
    f.check->add_option("file", f.check_file, "TOML expectation file (docs/probe.md)")
        ->required()
        ->check(CLI::ExistingFile);
    add_shared(f.check, f);
    f.check
        ->add_option("--lab-log", f.lab_log,
                     "The lab's --log-json file: show where it attributed each case and fail "
                     "a case whose location it did not apply")
        ->check(CLI::ExistingFile);
    f.check
        ->add_option("--locations", f.locations,
                     "The lab's locations export, to match location subdomains with names")
        ->check(CLI::ExistingFile);
}

int run_cli(const Cli& f) {
    auto dig = common::parse_dig_words(f.words);
    if (!dig) {
        return usage_error(dig.error().detail);
    }
    if (f.check->parsed() && !dig->qname.empty()) {
        return usage_error("check takes an expectation file, not a question ('" + dig->qname +
                           "')");
    }
    auto targets = collect_targets(f, *dig);
    if (!targets) {
        return usage_error(targets.error().detail);
    }
    auto headers = parse_headers(f.headers);
    if (!headers) {
        return usage_error(headers.error().detail);
    }
    if (!f.source.empty() &&
        std::any_of(targets->begin(), targets->end(),
                    [](const common::Target& t) { return !common::plain_dns(t.url); })) {
        std::cerr << "dnslab-probe: note: --source " << f.source
                  << " applies to the udp and tcp targets; tls and https targets are sent from "
                     "any address\n";
    }
    common::finalize_targets(*targets, f.ca, *headers, f.source);
    auto q = query_options(f);
    if (!q) {
        return usage_error(q.error().detail);
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
    auto session = session::ProbeSession::open(uopts);
    if (!session) {
        return usage_error(session.error().detail);
    }
    if (f.check->parsed()) {
        return run_check_file(f, **session, *targets, *q, pcap.get());
    }
    auto questions = questions_of(f, *dig);
    if (!questions) {
        return usage_error(questions.error().detail);
    }
    compare::CompareOptions copts;
    copts.ttl_tolerance = f.ttl_tolerance;
    copts.ttl_strict = f.ttl_strict;
    copts.strict = f.strict;
    copts.ignore = {f.ignore.begin(), f.ignore.end()};
    const auto report =
        run_matrix(**session, *targets, *questions, *q, copts, f.repeat, pcap.get());
    (*session)->close();
    pcap.reset(); // flushes the capture in time order
    return emit(to_document(report, {dig->short_answers && !f.json}), f);
}

} // namespace probes::matrix
