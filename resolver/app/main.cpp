// SPDX-License-Identifier: MIT
// dnslab-resolver: composition root. Parses flags, loads the config, starts the server.
#include <csignal>
#include <cstdio>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <openssl/ssl.h>

#include "resolver/app/cli_doc.hpp"
#include "resolver/app/explain.hpp"
#include "resolver/config/config.hpp"
#include "resolver/runtime/server.hpp"

namespace {
constexpr const char* kVersion = "0.1.0";

// The man page beyond the flags (resolver/app/cli_doc.hpp).
std::vector<std::pair<std::string, std::string>> man_sections() {
    return {
        {"Examples",
         "A lab on loopback, answering from the shipped fixture zones:\n"
         "  dnslab-resolver --listen udp://127.0.0.1:5353 --listen tcp://127.0.0.1:5353 \\\n"
         "    --upstream fixture:/usr/share/dnslab/zones --log-json -\n"
         "  kdig @127.0.0.1 -p 5353 www.example.com\n"
         "\n"
         "Why a rule decides a query, offline:\n"
         "  dnslab-resolver --rules rules.json explain --name ads.example.com"},
        {"Exit status", "0 after a clean shutdown (SIGTERM, SIGINT); 2 for a bad flag, "
                        "configuration or listener; explain: 0, or 2 when it cannot run."},
        {"Environment", "SSLKEYLOGFILE: write TLS session keys (NSS key log format) for "
                        "Wireshark. XDG_CACHE_HOME, HOME: the default --state-dir is "
                        "$XDG_CACHE_HOME/dnslab (else ~/.cache/dnslab), where the lab CA lives. "
                        "SSL_CERT_FILE, SSL_CERT_DIR: the trust store for DoT/DoH upstreams."},
        {"Files", "/usr/share/dnslab: fixture zones, sample Gateway exports, scenarios, "
                  "expectation files."},
        {"See also", "dnslab-probe(1), kdig(1), dig(1). The documentation in the source "
                     "repository: docs/configuration.md, docs/policy.md, docs/fixtures.md."},
    };
}

int usage_error(const std::string& msg) {
    std::fprintf(stderr, "dnslab-resolver: %s\n", msg.c_str());
    return 2;
}
} // namespace

int main(int argc, char** argv) {
    CLI::App app{
        "dnslab-resolver: a local stub resolver that mirrors the Cloudflare Gateway resolver"};
    app.set_version_flag("--version", std::string("dnslab-resolver ") + kVersion);
    std::string config_file;
    std::vector<std::string> listen;
    std::vector<std::string> upstreams;
    std::string log_json;
    std::string event_log;
    std::string ready_file;
    std::string state_dir;
    std::string tls_cert;
    std::string tls_key;
    std::string gateway_domain;
    std::string metrics, dnstap;
    std::string workers;
    std::string rules, lists, locations, categories, category_ids, geo, mmdb, identities;
    std::string applications, app_types, indicator_feeds;
    bool strict = false;
    app.add_option("--config", config_file, "TOML configuration file (flags override it)")
        ->check(CLI::ExistingFile);
    app.add_option("--listen", listen,
                   "listener URL: udp://ADDR:PORT, tcp://ADDR:PORT, tls://ADDR:PORT, "
                   "https://ADDR:PORT/PATH (repeatable; port 0 = ephemeral)");
    app.add_option("--upstream", upstreams,
                   "upstream URL: udp://IP:PORT, tcp://IP:PORT, tls://HOST:PORT, "
                   "https://HOST:PORT/PATH, fixture:DIR (repeatable; failover in order)");
    app.add_option("--log-json", log_json,
                   "write one gateway_dns JSON line per query to FILE ('-' = stdout)");
    app.add_option("--event-log", event_log,
                   "write lab events (policy loads and reloads, fault-plan reloads) as JSON lines "
                   "to FILE ('-' = stdout; default stderr), never to the query log");
    app.add_option("--ready-file", ready_file,
                   "write the bound listener URLs to FILE once every listener is up");
    app.add_option("--metrics", metrics,
                   "serve Prometheus metrics at URL: http://ADDR:PORT/metrics (port 0 = "
                   "ephemeral; the ready file names it)");
    app.add_option(
        "--workers", workers,
        "event loops serving queries, each with its own SO_REUSEPORT sockets on "
        "every listener: 1 to 64 or 'auto' (the CPUs it may run on); default 1 or [resolver] "
        "workers");
    app.add_option("--dnstap", dnstap,
                   "write dnstap Frame Streams: unix:PATH (a reader's socket) or file:PATH");
    app.add_option("--state-dir", state_dir, "directory for generated state such as the lab CA");
    app.add_option("--tls-cert", tls_cert,
                   "certificate chain (PEM) for DoT/DoH listeners; default: lab CA leaf");
    app.add_option("--tls-key", tls_key, "private key (PEM) for --tls-cert");
    app.add_option("--gateway-domain", gateway_domain,
                   "domain whose first label names a location (default cloudflare-gateway.com)");
    app.add_option("--rules", rules, "Gateway rules export (JSON)");
    app.add_option("--lists", lists, "Gateway lists export (JSON)");
    app.add_option("--locations", locations, "Gateway locations export (JSON)");
    app.add_option("--categories", categories, "category data (CSV: domain,categories)");
    app.add_option("--category-ids", category_ids,
                   "category names (CSV: id,name,parent; default: the built-in table)");
    app.add_option("--geo", geo, "geo data (CSV: cidr,country,continent)");
    app.add_option("--mmdb", mmdb, "MaxMind country/city database for geo fields");
    app.add_option("--identities", identities,
                   "lab identity map (JSON: token or source IP -> user)");
    app.add_option("--applications", applications,
                   "lab application catalogue (JSON: apps, types, domains) for app.ids");
    app.add_option("--app-types", app_types,
                   "gateway-export app_types.json: application names and types");
    app.add_option("--indicator-feeds", indicator_feeds,
                   "lab indicator feeds (JSON: feed id -> domains, IPs)");
    app.add_flag("--strict", strict,
                 "any policy loader warning (a rule skipped, a setting ignored) is fatal: "
                 "exit 2 naming every one (for CI)");
    resolver::app::ExplainRequest ex;
    CLI::App* explain = app.add_subcommand(
        "explain", "offline dry run: show how the policies decide one query and the exact answer");
    explain->fallthrough(); // the policy input flags above apply to explain too
    explain->add_option("--name", ex.name, "query name")->required();
    explain->add_option("--type", ex.type, "query type (default A)");
    explain->add_option("--protocol", ex.protocol, "udp, tcp, tls or https (default udp)");
    explain->add_option("--src", ex.src, "client address (default 127.0.0.1)");
    explain->add_option("--dst", ex.dst, "address the query reached (default 127.0.0.1)");
    explain->add_option("--doh-subdomain", ex.doh_subdomain,
                        "DoH/DoT location subdomain (host <sub>.<gateway domain>)");
    explain->add_option("--doh-host", ex.doh_host,
                        "DoH :authority / Host (default from --doh-subdomain)");
    explain->add_option("--doh-path", ex.doh_path,
                        "DoH request path (default /dns-query; /dns-query/<sub> names a location)");
    explain->add_option("--doh-header", ex.doh_header, "cf-dns-location header value");
    explain->add_option("--sni", ex.sni, "TLS server name");
    explain->add_option("--edns-location", ex.edns_location, "EDNS option 65011 value");
    explain->add_option("--request-categories", ex.request_categories, "EDNS option 65050 JSON");
    explain->add_option("--token", ex.token, "CF-Authorization token (identity map)");
    explain->add_option("--src-internal-ip", ex.src_internal_ip,
                        "private on-ramp source address (dns.src_internal_ip)");
    explain->add_option("--at", ex.at, "evaluate at this RFC 3339 time (schedules)");
    explain->add_option("--answer", ex.answer_file,
                        "upstream answer records in presentation format");
    explain->add_option("--upstream", ex.upstream,
                        "ask this upstream for the answer (fixture:DIR works offline)");
    explain->add_option("--id", ex.id, "the query's message ID (default 0)");
    explain->add_option("--udp-size", ex.udp_size,
                        "EDNS payload size the client advertises (default 1232)");
    bool no_edns = false;
    explain->add_flag("--no-edns", no_edns, "send the query without EDNS (like dig +noedns)");
    explain->add_flag("--do", ex.dnssec_ok, "set the EDNS DO bit (like dig +dnssec)");
    explain->add_flag("--cd", ex.cd, "set the CD bit (like dig +cd)");
    explain->add_flag("--json", ex.json, "JSON output (schema dnslab.explain.v1)");
    bool selectors_markdown = false;
    CLI::App* selectors = app.add_subcommand(
        "selectors", "list the policy selectors this lab evaluates, with what fills each");
    selectors->add_flag("--markdown", selectors_markdown, "a Markdown table (docs/policy.md)");
    resolver::app::add_doc_flags( // the man page and bash completion (packaging/meson.build)
        app, {"dnslab-resolver", kVersion, man_sections()});
    try {
        app.parse(argc, argv);
    } catch (const CLI::Success& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        app.exit(e);
        return 2;
    }

    if (selectors->parsed()) {
        std::fputs(resolver::app::render_selectors(selectors_markdown).c_str(), stdout);
        return 0;
    }
    resolver::config::Config cfg;
    if (!config_file.empty()) {
        auto loaded = resolver::config::load_file(config_file);
        if (!loaded) {
            return usage_error(loaded.error().detail);
        }
        cfg = std::move(loaded).value();
    }
    auto override_str = [](std::string& dst, const std::string& v) {
        if (!v.empty()) {
            dst = v;
        }
    };
    if (!listen.empty()) {
        cfg.listen = listen;
    }
    if (!upstreams.empty()) {
        cfg.upstream = upstreams;
    }
    override_str(cfg.log_json, log_json);
    override_str(cfg.event_log, event_log);
    override_str(cfg.ready_file, ready_file);
    override_str(cfg.state_dir, state_dir);
    override_str(cfg.metrics, metrics);
    override_str(cfg.dnstap, dnstap);
    if (!workers.empty()) {
        auto w = resolver::config::parse_workers(workers);
        if (!w) {
            return usage_error("--workers: " + w.error().detail);
        }
        cfg.workers = *w;
    }
    override_str(cfg.tls_cert, tls_cert);
    override_str(cfg.tls_key, tls_key);
    override_str(cfg.gateway_domain, gateway_domain);
    override_str(cfg.rules_file, rules);
    override_str(cfg.lists_file, lists);
    override_str(cfg.locations_file, locations);
    override_str(cfg.categories_file, categories);
    override_str(cfg.category_ids_file, category_ids);
    override_str(cfg.geo_file, geo);
    override_str(cfg.mmdb_file, mmdb);
    override_str(cfg.identities_file, identities);
    override_str(cfg.applications_file, applications);
    override_str(cfg.app_types_file, app_types);
    override_str(cfg.indicator_feeds_file, indicator_feeds);
    cfg.policy_strict = cfg.policy_strict || strict;
    if (explain->parsed()) {
        if (no_edns) {
            ex.udp_size = 0;
        }
        return resolver::app::run_explain(cfg, ex);
    }
    if (cfg.listen.empty()) {
        cfg.listen = {"dns://127.0.0.1:5353"};
    }
    if (cfg.upstream.empty()) {
        cfg.upstream = {"udp://1.1.1.1:53"};
    }

    std::signal(SIGPIPE, SIG_IGN); // a vanished TCP/TLS peer is an error value, not a signal
    OPENSSL_init_ssl(0, nullptr);

    auto server = resolver::runtime::Server::start(cfg);
    if (!server) {
        return usage_error(server.error().detail);
    }
    return (*server)->run();
}
