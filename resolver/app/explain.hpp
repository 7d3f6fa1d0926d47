// SPDX-License-Identifier: MIT
#pragma once
#include <cstdint>
#include <string>

#include "resolver/config/config.hpp"

namespace resolver::app {

/// The question and transport facts `dnslab-resolver explain` evaluates offline.
struct ExplainRequest {
    std::string name;
    std::string type = "A";
    std::string protocol = "udp"; // udp, tcp, tls, https
    std::string src = "127.0.0.1";
    std::string dst = "127.0.0.1";
    std::string doh_subdomain;      // sets the DoH host / SNI <sub>.<gateway domain>
    std::string doh_host;           // DoH :authority / Host as given (overrides doh_subdomain)
    std::string doh_path;           // DoH request path, e.g. /dns-query/<sub>
    std::string doh_header;         // cf-dns-location
    std::string sni;                // DoT/DoH SNI
    std::string edns_location;      // EDNS 65011
    std::string request_categories; // EDNS 65050 JSON, e.g. {"categories":[2]}
    std::string token;              // CF-Authorization
    std::string src_internal_ip;    // dns.src_internal_ip (private on-ramp traffic)
    std::string at;                 // RFC 3339 time; "" = now
    std::string answer_file;        // records the upstream "answered" (presentation format)
    std::string upstream;           // or: ask this upstream URL (fixture:DIR works offline)
    std::uint16_t id = 0;           // the client's message ID
    std::uint16_t udp_size = 1232;  // EDNS payload size; 0 = no EDNS (--no-edns)
    bool dnssec_ok = false;         // EDNS DO
    bool cd = false;                // CD
    bool json = false;
};

/// Runs one explanation: loads the policy inputs named by `cfg`, attributes, evaluates every
/// phase with a full trace, builds the exact answer, prints text or JSON to stdout.
/// Returns the process exit code: 0 done, 2 bad input (message on stderr).
int run_explain(const config::Config& cfg, const ExplainRequest& req);

/// The selector registry (policy/expr_fields) as a table: name, type, phase, what fills it.
std::string render_selectors(bool markdown);

} // namespace resolver::app
