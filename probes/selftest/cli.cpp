// SPDX-License-Identifier: MIT
#include "probes/selftest/cli.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>

#include "probes/report/formats.hpp"
#include "probes/selftest/bundle.hpp"
#include "probes/selftest/local_info.hpp"

namespace probes::selftest {
using nlohmann::json;

namespace {

constexpr int kExitFail = 1;
constexpr int kExitCannotRun = 2;
constexpr const char* kDefaultReadyFile = "/tmp/dnslab.ready"; // docs/selftest.md

// Where a lab started as the docs say leaves its ready file; DNSLAB_READY_FILE moves it.
std::string default_ready_file() {
    const char* env = std::getenv("DNSLAB_READY_FILE");
    return env != nullptr && *env != '\0' ? env : kDefaultReadyFile;
}

std::string join(const std::vector<std::string>& v) {
    std::string s;
    for (const auto& n : v) {
        s += (s.empty() ? "" : ", ") + n;
    }
    return s;
}

int cannot_run(const std::string& msg) {
    std::cerr << "dnslab-probe selftest: " << msg << "\n";
    return kExitCannotRun;
}

bool write_text(const std::string& path, const std::string& text) {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f << text;
    f.close();
    return static_cast<bool>(f);
}

std::optional<json> read_json(const std::string& path) {
    std::ifstream in(path);
    if (!in) {
        return std::nullopt;
    }
    auto j = json::parse(in, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
        return std::nullopt;
    }
    return j;
}

int run_diff(const Cli& cli) {
    auto a = read_json(cli.diff_a);
    auto b = read_json(cli.diff_b);
    if (!a || !b) {
        return cannot_run("cannot read report " + (!a ? cli.diff_a : cli.diff_b) + " as JSON");
    }
    for (const auto* r : {&*a, &*b}) {
        if (r->value("schema", "") != kSchema) {
            return cannot_run("not a " + std::string(kSchema) + " report");
        }
    }
    const auto doc = diff_document(*a, *b, cli.diff_a, cli.diff_b);
    const bool color = !cli.json && report::use_color(cli.no_color, STDOUT_FILENO);
    std::vector<report::OutputRequest> outputs{{cli.json ? "json" : "text", "-"}};
    if (!cli.html.empty()) {
        outputs.push_back({"html", cli.html});
    }
    if (auto st = report::write_outputs(doc, outputs, {color, false}); !st) {
        return cannot_run(st.error().detail);
    }
    return doc.exit_code == 0 ? 0 : kExitFail;
}

// `selftest show`: a report read back renders as it did when it was written (to_document
// reads the report document), whichever self-test wrote it: this binary or the sh script.
int run_show(const Cli& cli) {
    auto r = read_json(cli.shown);
    if (!r) {
        return cannot_run("cannot read report " + cli.shown + " as JSON");
    }
    if (r->value("schema", "") != kSchema) {
        return cannot_run(cli.shown + ": not a " + std::string(kSchema) + " report");
    }
    auto outputs = report::requested_outputs("text", "", cli.html, cli.reports);
    if (!outputs) {
        return cannot_run(outputs.error().detail);
    }
    const auto doc = to_document(*r);
    const bool color = report::use_color(cli.no_color, STDOUT_FILENO);
    if (auto st = report::write_outputs(doc, *outputs, {color, false}); !st) {
        return cannot_run(st.error().detail);
    }
    return doc.exit_code == 0 ? 0 : kExitFail;
}

// The local facts as checks of their own (local.resolv-conf, local.systemd-resolved,
// local.system), so they appear in the summary like the others.
void add_local_checks(Report& report, const LocalFacts& local, const std::string& resolv_conf) {
    const auto& rc = local.json["resolv_conf"];
    std::vector<std::string> ns;
    if (rc.contains("nameservers")) {
        ns = rc["nameservers"].get<std::vector<std::string>>();
    }
    Check conf{"local.resolv-conf",
               "local",
               "System resolver configuration",
               rc.value("readable", false) ? Verdict::Info : Verdict::Warn,
               rc.value("readable", false)
                   ? "nameservers: " + (ns.empty() ? std::string("(none)") : join(ns))
                   : "cannot read " + resolv_conf,
               {{"nameservers", ns}}};
    conf.answer = join(ns);
    report.checks.push_back(std::move(conf));
    const auto& sd = local.json["systemd_resolved"];
    report.checks.push_back({"local.systemd-resolved",
                             "local",
                             "systemd-resolved",
                             sd.value("present", false) ? Verdict::Info : Verdict::NotApplicable,
                             sd.value("present", false)
                                 ? "present (resolvectl status in the report)"
                                 : "not in use on this machine",
                             {{"present", sd.value("present", false)}}});
    const auto os = local.json["os_release"].value("PRETTY_NAME", std::string("unknown OS"));
    const auto kern = local.json.contains("uname")
                          ? local.json["uname"].value("release", std::string())
                          : std::string();
    report.checks.push_back({"local.system",
                             "local",
                             "Operating system and tools",
                             Verdict::Info,
                             os + ", kernel " + kern,
                             {{"os", os}, {"kernel", kern}}});
}

std::string default_out_dir(std::time_t stamp) {
    char buf[40];
    tm u{};
    gmtime_r(&stamp, &u);
    std::strftime(buf, sizeof buf, "dnslab-selftest-%Y%m%dT%H%M%SZ", &u);
    return buf;
}

} // namespace

void add_cli(CLI::App& app, Cli& cli) {
    auto* s = app.add_subcommand("selftest", "Customer self-test: reachability, TLS, interception, "
                                             "policy, features, local configuration");
    add_options(*s, cli);
}

void add_options(CLI::App& s_app, Cli& cli) {
    auto* s = &s_app;
    cli.cmd = s;
    s->footer(customer_help());
    auto& o = cli.opts;
    const std::string gateway = "Your resolver (Cloudflare Gateway location)";
    s->add_option("--location", o.location,
                  "The location's DoH subdomain SUB: tests "
                  "https://SUB.cloudflare-gateway.com/dns-query and SUB.cloudflare-gateway.com")
        ->group(gateway);
    s->add_option("--doh", o.doh, "DoH URL, https://<sub>.cloudflare-gateway.com/dns-query")
        ->group(gateway);
    s->add_option("--dot", o.dot, "DoT host[:port], <sub>.cloudflare-gateway.com")->group(gateway);
    s->add_option("--ipv4", o.ipv4, "Plain DNS over IPv4: ADDR[:PORT] (the location's address)")
        ->group(gateway);
    s->add_option("--ipv6", o.ipv6, "Plain DNS over IPv6: ADDR or [ADDR]:PORT")->group(gateway);
    s->add_option("--ca", o.ca, "Trust store for DoT/DoH (default: the system's; lab: the lab CA)")
        ->group(gateway);
    s->add_option("--expected-issuer", o.expected_issuer,
                  "CA PEM file or issuer name text a genuine chain leads to")
        ->group(gateway);
    const std::string lab = "The dnslab lab instead";
    s->add_option(
         "--lab", o.lab_ready,
         "Ready file of a running dnslab-resolver (the default profile: $DNSLAB_READY_FILE, "
         "else /tmp/dnslab.ready)")
        ->group(lab);
    s->add_option("--lab-host", o.lab_host,
                  "ADDR:udp=P,tcp=P,tls=P,https=P (dnslab-probe --host syntax)")
        ->group(lab);
    const std::string names = "Names asked";
    s->add_option("--name", o.names, "Also classify this name's policy outcome (repeatable)")
        ->group(names);
    s->add_option("--test-name", o.test_names,
                  "Replace the Gateway category test names (repeatable)")
        ->group(names);
    s->add_option("--expect", o.expect_file, "Expected outcomes, probe check TOML (docs/probe.md)")
        ->check(CLI::ExistingFile)
        ->group(names);
    s->add_option("--reach-name", o.reach_name,
                  "Name asked over every transport (gateway: www.cloudflare.com)")
        ->group(names);
    // Through a function, so that an explicit '' is told from "not given" (it switches the
    // check off instead of taking the profile's default).
    s->add_option_function<std::string>(
         "--large-name", [&o](const std::string& v) { o.large_name = v; },
         "Name with a TXT answer above 1232 bytes (lab: big.example.com; '' = off)")
        ->group(names);
    s->add_option_function<std::string>(
         "--signed-name", [&o](const std::string& v) { o.signed_name = v; },
         "DNSSEC-signed name for the AD check (gateway: cloudflare.com; '' = off)")
        ->group(names);
    s->add_option_function<std::string>(
         "--error-name", [&o](const std::string& v) { o.error_name = v; },
         "Name whose answer is an error, for the EDE check (gateway: dnssec-failed.org; '' = "
         "off)")
        ->group(names);
    const std::string output = "Report";
    s->add_option("--out", cli.out_dir,
                  "Directory for report.json, report.md, report.html, summary.txt")
        ->group(output);
    s->add_option("--bundle", cli.bundle, "The .tar.gz to attach to a ticket (default OUT.tar.gz)")
        ->group(output);
    s->add_flag("--redact", cli.redact,
                "Replace this machine's addresses and host name with placeholders")
        ->group(output);
    s->add_flag("--json", cli.json, "Print report.json instead of the summary")->group(output);
    s->add_option("--html", cli.html, "Also write report.html to FILE (it is in --out anyway)")
        ->type_name("FILE")
        ->group(output);
    s->add_option("--report", cli.reports,
                  "Also write FORMAT=FILE (FILE '-' is stdout); formats: " + report::format_names())
        ->allow_extra_args(false)
        ->group(output);
    s->add_flag("--no-color", cli.no_color, "No ANSI colours (also: NO_COLOR set)")->group(output);
    s->add_flag("--quiet,-q", cli.quiet, "No progress line on stderr")->group(output);
    const std::string tuning = "Tuning";
    s->add_option("--resolv-conf", o.resolv_conf, "System resolver configuration to report")
        ->group(tuning);
    s->add_option("--timeout", o.timeout_ms, "Per-query timeout in ms")
        ->check(CLI::Range(100U, 60000U))
        ->group(tuning);
    s->add_option("--retries", o.retries, "Retries per query")
        ->check(CLI::Range(0U, 5U))
        ->group(tuning);
    auto* d = s->add_subcommand("diff",
                                "Compare two report.json files (customer vs lab, before vs after)");
    d->footer(""); // CLI11 copies the parent's footer into a new subcommand
    d->add_option("a", cli.diff_a, "First report.json")->required();
    d->add_option("b", cli.diff_b, "Second report.json")->required();
    d->add_flag("--json", cli.json, "Machine output (schema dnslab.selftest.diff.v1)");
    d->add_option("--html", cli.html, "Also write the differences as an HTML page to FILE")
        ->type_name("FILE");
    d->add_flag("--no-color", cli.no_color, "No ANSI colours");
    cli.diff = d;
    auto* sh = s->add_subcommand(
        "show", "Render a report.json (this self-test's or dnslab-selftest.sh's) again: the full "
                "text, --html FILE, --report FORMAT=FILE");
    sh->footer("");
    sh->add_option("report", cli.shown, "report.json")->required();
    sh->add_option("--html", cli.html, "Also write the report as an HTML page to FILE")
        ->type_name("FILE");
    sh->add_option("--report", cli.reports,
                   "Also write FORMAT=FILE (FILE '-' is stdout); formats: " +
                       report::format_names())
        ->allow_extra_args(false);
    sh->add_flag("--no-color", cli.no_color, "No ANSI colours");
    cli.show = sh;
}

std::string customer_help() {
    return R"(What it checks: whether this machine reaches your DNS resolver over plain DNS
(UDP and TCP, IPv4 and IPv6), DNS over TLS and DNS over HTTPS; the TLS certificate each
encrypted endpoint presents (a middlebox intercepting TLS shows up here); whether plain DNS
is answered by the same resolver as the encrypted transports; how the Gateway category test
names (malware.testcategory.com, ...) and the names you add with --name are answered; EDNS,
truncation and TCP fallback, DNSSEC validation, Extended DNS Errors; this machine's clock,
resolver configuration and operating system.

What it sends, and to whom: DNS queries and TLS handshakes to the endpoints you name with
--doh, --dot, --ipv4 and --ipv6, and nothing else (in the lab profile: the lab's own
listeners). The names asked are www.cloudflare.com, cloudflare.com, dnssec-failed.org,
id.server (class CHAOS), the *.testcategory.com test names and your --name names. Nothing is
uploaded: it reads /etc/resolv.conf, /etc/os-release, the interface addresses and
`resolvectl status` for the report only.

What it writes: a directory dnslab-selftest-<time>/ with report.json, report.md,
report.html (open it in a browser) and summary.txt, and one file,
dnslab-selftest-<time>.tar.gz: attach that file to your support ticket. --redact
replaces this machine's addresses and host name with placeholders first.

Exit status: 0 every check passed, 1 a check failed, 2 the self-test could not run.

Example (SUB: your location's DoH subdomain):
  dnslab-selftest --location SUB --ipv4 ADDR --redact
which is the same as
  dnslab-selftest --doh https://SUB.cloudflare-gateway.com/dns-query \
    --dot SUB.cloudflare-gateway.com --ipv4 ADDR --redact)";
}

namespace {

// The redaction of one run: this machine's addresses (not the endpoints under test) and
// host name, applied to rendered text so that every place they appear is covered.
struct Scrubber {
    bool on = false;
    std::vector<std::string> secrets;
    std::string hostname;
    [[nodiscard]] std::string operator()(const std::string& text) const {
        return on ? redact_text(text, secrets, hostname) : text;
    }
    // The report document with every string (keys included) redacted. HTML is rendered from
    // this rather than scrubbed afterwards: a placeholder such as <ipv4-1> put into HTML
    // after escaping would be markup, not text.
    [[nodiscard]] json operator()(const json& j) const {
        if (!on) {
            return j;
        }
        if (j.is_string()) {
            return (*this)(j.get<std::string>());
        }
        if (j.is_array()) {
            json out = json::array();
            for (const auto& x : j) {
                out.push_back((*this)(x));
            }
            return out;
        }
        if (j.is_object()) {
            json out = json::object();
            for (const auto& [k, v] : j.items()) {
                out[(*this)(k)] = (*this)(v);
            }
            return out;
        }
        return j;
    }
};

// A format's text for a file or the terminal, redacted like the report.
std::string render_scrubbed(const report::Format& f, const report::Document& doc,
                            const report::Document& redacted_doc, const Scrubber& scrub) {
    return f.name == "html" ? f.render(redacted_doc, {}) : scrub(f.render(doc, {}));
}

Scrubber scrubber(bool redact, const LocalFacts& local, const std::vector<Endpoint>& endpoints) {
    Scrubber s{redact, {}, local.hostname};
    for (const auto& a : local.customer_addresses) {
        const bool endpoint =
            std::any_of(endpoints.begin(), endpoints.end(),
                        [&](const Endpoint& e) { return e.target.url.host == a; });
        if (!endpoint) {
            s.secrets.push_back(a);
        }
    }
    return s;
}

// report.json, report.md, report.html and summary.txt into the output folder, and the
// bundle of them.
resolver::Status write_report(const Cli& cli, const report::Document& doc,
                              const report::Document& redacted_doc, const Scrubber& scrub,
                              std::time_t stamp) {
    const auto json_text = scrub(report::render_json(doc, {}));
    const auto md = scrub(report::render_markdown(doc, {}));
    const auto html = report::render_html(redacted_doc, {});
    const auto summary = scrub(report::render_text(doc, {false, true}));
    const std::string base = cli.out_dir + "/";
    if (!write_text(base + "report.json", json_text) || !write_text(base + "report.md", md) ||
        !write_text(base + "report.html", html) || !write_text(base + "summary.txt", summary)) {
        return resolver::fail(resolver::Errc::ConfigInvalid, "cannot write into " + cli.out_dir);
    }
    return write_bundle(cli.bundle,
                        {{"dnslab-selftest/report.json", json_text},
                         {"dnslab-selftest/report.md", md},
                         {"dnslab-selftest/report.html", html},
                         {"dnslab-selftest/summary.txt", summary}},
                        static_cast<long>(stamp));
}

// What the terminal gets (the brief summary, or report.json with --json) and --report files,
// redacted like the report.
resolver::Status print_report(const Cli& cli, const report::Document& doc,
                              const report::Document& redacted_doc, const Scrubber& scrub,
                              const std::vector<report::OutputRequest>& extra) {
    if (cli.json) {
        std::cout << scrub(report::render_json(doc, {}));
    } else {
        const bool color = report::use_color(cli.no_color, STDOUT_FILENO);
        // The files first, then, last, what to attach to the ticket.
        std::cout << scrub(report::render_text(doc, {color, true})) << "Report: " << cli.out_dir
                  << "/report.json, bundle: " << cli.bundle << "\n"
                  << "Attach " << cli.bundle << " to the ticket.\n";
    }
    for (const auto& r : extra) {
        const auto text = render_scrubbed(*report::find_format(r.format), doc, redacted_doc, scrub);
        if (r.path == "-") {
            std::cout << text;
        } else if (!write_text(r.path, text)) {
            return resolver::fail(resolver::Errc::ConfigInvalid, "cannot write " + r.path);
        }
    }
    return resolver::ok();
}

// A progress line on stderr: rewritten in place on a terminal, plain lines in logs.
Progress progress_line(bool quiet) {
    const bool tty = isatty(STDERR_FILENO) != 0;
    return [quiet, tty](int step, int total, const std::string& what) {
        if (!quiet) {
            std::cerr << (tty ? "\r\033[K" : "") << "selftest [" << step << "/" << total << "] "
                      << what << "..." << (tty ? "" : "\n") << std::flush;
        }
    };
}

} // namespace

int run_cli(Cli& cli) {
    if (cli.diff != nullptr && cli.diff->parsed()) {
        return run_diff(cli);
    }
    if (cli.show != nullptr && cli.show->parsed()) {
        return run_show(cli);
    }
    auto& o = cli.opts;
    apply_location(o);
    const bool gateway_given =
        !o.doh.empty() || !o.dot.empty() || !o.ipv4.empty() || !o.ipv6.empty();
    if (o.lab_ready.empty() && o.lab_host.empty() && !gateway_given) {
        o.lab_ready = default_ready_file(); // where README/docs start the lab resolver
        if (::access(o.lab_ready.c_str(), R_OK) != 0) {
            std::cerr << how_to_run("dnslab-selftest");
            return kExitCannotRun;
        }
    }
    std::vector<report::OutputRequest> extra;
    for (const auto& spec : cli.reports) {
        auto r = report::parse_output(spec);
        if (!r) {
            return cannot_run(r.error().detail);
        }
        extra.push_back(*r);
    }
    if (!cli.html.empty()) {
        extra.push_back({"html", cli.html});
    }
    apply_profile_defaults(o);
    auto endpoints = build_endpoints(o);
    if (!endpoints) {
        return cannot_run(endpoints.error().detail);
    }
    const auto stamp = std::time(nullptr);
    if (cli.out_dir.empty()) {
        cli.out_dir = default_out_dir(stamp);
    }
    if (cli.bundle.empty()) {
        cli.bundle = cli.out_dir + ".tar.gz";
    }
    if (::mkdir(cli.out_dir.c_str(), 0755) != 0 && errno != EEXIST) {
        return cannot_run("cannot create " + cli.out_dir + ": " + std::strerror(errno));
    }
    auto report = run_selftest(o, *endpoints, progress_line(cli.quiet));
    const auto local = collect_local_facts(o.resolv_conf, o.tool_version);
    report.local = local.json;
    add_local_checks(report, local, o.resolv_conf);
    if (!cli.quiet) {
        std::cerr << (isatty(STDERR_FILENO) != 0 ? "\r\033[K" : "") << "selftest done in "
                  << static_cast<long>(report.duration_ms) << " ms\n";
    }
    const auto scrub = scrubber(cli.redact, local, *endpoints);
    const auto report_json = to_json(report, cli.redact);
    const auto doc = to_document(report_json);
    const auto redacted_doc = scrub.on ? to_document(scrub(report_json)) : doc;
    if (auto st = write_report(cli, doc, redacted_doc, scrub, stamp); !st) {
        return cannot_run(st.error().detail);
    }
    if (auto st = print_report(cli, doc, redacted_doc, scrub, extra); !st) {
        return cannot_run(st.error().detail);
    }
    return report.exit_code();
}

} // namespace probes::selftest
