// SPDX-License-Identifier: MIT
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "resolver/core/result.hpp"
#include "resolver/net/transport.hpp"
#include "resolver/util/url.hpp"

namespace probes::common {

/// One place to send questions: a named upstream URL, as make_upstream() understands it.
struct Target {
    std::string name; // shown in reports; unique within a run
    resolver::util::Url url;
    std::string transport; // udp, tcp, tls, https-get, https-post, https-json
};

/// The transport of a URL (its scheme, from the one table in resolver/net), nullopt for
/// other schemes.
std::optional<resolver::net::Transport> kind_of(const resolver::util::Url& url);
/// Plain DNS (udp, tcp): the transports a `source=` address and EDNS 65011 apply to.
bool plain_dns(const resolver::util::Url& url);

/// Transport label of a URL: the scheme, or "https-" + the DoH method (default post).
std::string transport_of(const resolver::util::Url& url);

/// Parses one `--target` value: `URL` or `name=URL`. A `lab://HOST?udp=P&tcp=P&tls=P&https=P`
/// URL (optional `path=`, `sni=`, `ca=`) expands into every transport given: udp, tcp, tls,
/// https-get, https-post and https-json. Names default to the transport label (prefixed with
/// `name-` when a name is given). A bare `IP`, `IP:PORT` or `[IPv6]:PORT` means plain DNS
/// over UDP and TCP (port 53 by default), as `dig @IP` asks.
resolver::Result<std::vector<Target>> parse_target(std::string_view spec);

/// `--host ADDR`, `--host ADDR:PORT` or `--host ADDR:udp=P,tcp=P,tls=P,https=P`: the first
/// form means the standard ports (53, 53, 853, 443), the second Do53 UDP and TCP on PORT.
/// IPv6 addresses go in brackets: `[::1]:5353`.
resolver::Result<std::vector<Target>> parse_host(std::string_view spec);

/// A targets file: one target per line in the `--target` syntax; blank lines and `#`
/// comments ignored. Errors name the line.
resolver::Result<std::vector<Target>> parse_targets_file(std::string_view text);

/// Applies the run-wide knobs to every target URL without overriding per-URL parameters:
/// `tc=keep` on udp (the probe must see TC answers as sent), `ca=` on tls/https, HTTP
/// headers (`header.<name>=value`) on https, `source=` (the local address to send from) on
/// udp and tcp. Also makes target names unique.
void finalize_targets(std::vector<Target>& targets, const std::string& ca_file,
                      const std::vector<std::pair<std::string, std::string>>& headers,
                      const std::string& source = "");

/// The words of a dig-style command line: `@SERVER` (a target in the --target syntax, a
/// bare IP[:PORT] meaning UDP and TCP), `+short`, then the name and the type, in any order
/// of servers and options (`dnslab-probe @127.0.0.1 www.example.com AAAA +short`).
struct DigWords {
    std::string qname, qtype;
    std::vector<std::string> servers; // without the '@'
    bool short_answers = false;       // +short
};
/// Errors name the word: an unknown +option, a third free word, an empty server.
resolver::Result<DigWords> parse_dig_words(const std::vector<std::string>& words);

} // namespace probes::common
