// SPDX-License-Identifier: MIT
#include "probes/common/targets.hpp"

#include <algorithm>
#include <charconv>
#include <map>
#include <optional>
#include <set>

#include "resolver/net/transport.hpp"

namespace probes::common {
namespace net = resolver::net;
namespace util = resolver::util;
using resolver::Errc;
using resolver::fail;
using resolver::Result;

namespace {

std::string trim(std::string_view s) {
    const auto b = s.find_first_not_of(" \t\r\n");
    if (b == std::string_view::npos) {
        return "";
    }
    return std::string(s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1));
}

std::optional<std::uint16_t> parse_port(std::string_view s) {
    unsigned v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size() || v == 0 || v > 65535) {
        return std::nullopt;
    }
    return static_cast<std::uint16_t>(v);
}

std::string host_part(const std::string& host) {
    return util::is_ipv6_literal(host) ? "[" + host + "]" : host;
}

// Builds the transport set for one host from a map transport -> port.
Result<std::vector<Target>> expand(const std::string& prefix, const std::string& host,
                                   const std::map<std::string, std::string>& ports,
                                   const std::map<std::string, std::string>& extra) {
    std::vector<Target> out;
    auto add = [&](const std::string& label, const std::string& text) -> resolver::Status {
        auto url = util::parse_url(text);
        if (!url) {
            return url.error();
        }
        out.push_back(Target{prefix.empty() ? label : prefix + "-" + label, *url, label});
        return resolver::ok();
    };
    const std::string path = extra.count("path") != 0U ? extra.at("path") : "/dns-query";
    std::string tls_params;
    for (const char* k : {"sni", "ca", "pin"}) {
        if (auto it = extra.find(k); it != extra.end()) {
            tls_params += std::string(tls_params.empty() ? "" : "&") + k + "=" + it->second;
        }
    }
    for (const auto& [kind, port] : ports) {
        if (!parse_port(port)) {
            return fail(Errc::ConfigInvalid, "bad port '" + port + "' for " + kind);
        }
    }
    const std::string h = host_part(host);
    for (const auto& row : net::kTransports) {
        const std::string kind(row.name);
        auto it = ports.find(kind);
        if (it == ports.end()) {
            continue;
        }
        const std::string base = kind + "://" + h + ":" + it->second;
        resolver::Status st = resolver::ok();
        if (row.transport == net::Transport::Tls) {
            st = add(kind, base + (tls_params.empty() ? "" : "?" + tls_params));
        } else if (row.transport == net::Transport::Https) {
            // One target per DoH method (RFC 8484 §4.1 GET and POST, and the JSON API).
            for (const char* method : {"get", "post", "json"}) {
                st = add(kind + "-" + method, base + path + "?method=" + method +
                                                  (tls_params.empty() ? "" : "&" + tls_params));
                if (!st) {
                    break;
                }
            }
        } else {
            st = add(kind, base);
        }
        if (!st) {
            return st.error();
        }
    }
    if (out.empty()) {
        return fail(Errc::ConfigInvalid, "no transport ports given for " + host);
    }
    return out;
}

// A transport's own name (udp, tcp, tls, https): a port key of lab:// and --host.
bool is_transport_name(std::string_view k) {
    const auto t = net::transport_from_name(k);
    return t && net::transport_name(*t) == k;
}

// "IP", "IP:PORT", "[V6]:PORT" or a bare IPv6 literal: (host, port), else nullopt.
std::optional<std::pair<std::string, std::uint16_t>> bare_address(const std::string& spec) {
    if (spec.find("://") != std::string::npos) {
        return std::nullopt;
    }
    if (util::is_ip_literal(spec)) {
        return std::make_pair(spec, std::uint16_t{53});
    }
    std::string host, port;
    if (!spec.empty() && spec.front() == '[') {
        const auto close = spec.find(']');
        if (close == std::string::npos || close + 1 >= spec.size() || spec[close + 1] != ':') {
            return std::nullopt;
        }
        host = spec.substr(1, close - 1);
        port = spec.substr(close + 2);
    } else if (auto colon = spec.find(':'); colon != std::string::npos) {
        host = spec.substr(0, colon);
        port = spec.substr(colon + 1);
    }
    const auto p = parse_port(port);
    if (!p || !util::is_ip_literal(host)) {
        return std::nullopt;
    }
    return std::make_pair(host, *p);
}

} // namespace

std::optional<net::Transport> kind_of(const util::Url& url) {
    return net::transport_from_name(url.scheme);
}

bool plain_dns(const util::Url& url) {
    const auto k = kind_of(url);
    return k && !net::row(*k).encrypted;
}

std::string transport_of(const util::Url& url) {
    if (kind_of(url) == net::Transport::Https) {
        return url.scheme + "-" + url.param("method", "post");
    }
    return url.scheme;
}

Result<std::vector<Target>> parse_target(std::string_view spec_in) {
    std::string spec = trim(spec_in);
    std::string name;
    // "name=URL": a name never contains ':' or '/', a URL always does before any '='.
    if (auto eq = spec.find('='); eq != std::string::npos) {
        auto colon = spec.find(':');
        if (colon == std::string::npos || eq < colon) {
            name = spec.substr(0, eq);
            spec = spec.substr(eq + 1);
        }
    }
    if (auto bare = bare_address(spec)) {
        const auto& [host, port] = *bare;
        std::vector<Target> out;
        for (const auto kind : {net::Transport::Udp, net::Transport::Tcp}) {
            const std::string scheme(net::transport_name(kind));
            auto url =
                util::parse_url(scheme + "://" + host_part(host) + ":" + std::to_string(port));
            if (!url) {
                return fail(Errc::ConfigInvalid,
                            "bad target '" + spec + "': " + url.error().detail);
            }
            Target t{name.empty() ? "" : name + "-" + scheme, *url, scheme};
            if (t.name.empty()) {
                t.name = t.transport + "@" + url->authority();
            }
            out.push_back(std::move(t));
        }
        return out;
    }
    if (spec.rfind("lab://", 0) == 0) {
        // lab://HOST?udp=P&... is not a real URL scheme: parse it as an https URL to reuse
        // the host/params parser, then expand.
        auto url = util::parse_url("https://" + spec.substr(6));
        if (!url) {
            return fail(Errc::ConfigInvalid,
                        "bad lab:// target '" + spec + "': " + url.error().detail);
        }
        std::map<std::string, std::string> ports, extra;
        for (const auto& [k, v] : url->params) {
            (is_transport_name(k) ? ports : extra)[k] = v;
        }
        return expand(name, url->host, ports, extra);
    }
    auto url = util::parse_url(spec);
    if (!url) {
        return fail(Errc::ConfigInvalid, "bad target '" + spec + "': " + url.error().detail);
    }
    const auto kind = kind_of(*url);
    if (!kind || url->scheme != net::transport_name(*kind)) {
        return fail(Errc::ConfigInvalid,
                    "bad target '" + spec + "': scheme must be udp, tcp, tls, https or lab");
    }
    if (!url->port) {
        url->port = net::row(*kind).default_port;
    }
    if (kind == net::Transport::Https && url->path.empty()) {
        url->path = "/dns-query"; // RFC 8484 §4.1 template used by every public DoH service
    }
    Target t{name, *url, transport_of(*url)};
    if (t.name.empty()) {
        t.name = t.transport + "@" + url->authority();
    }
    return std::vector<Target>{t};
}

Result<std::vector<Target>> parse_host(std::string_view spec_in) {
    const std::string spec = trim(spec_in);
    std::string host, rest;
    if (!spec.empty() && spec.front() == '[') {
        auto close = spec.find(']');
        if (close == std::string::npos) {
            return fail(Errc::ConfigInvalid, "bad --host '" + spec + "': missing ']'");
        }
        host = spec.substr(1, close - 1);
        rest = spec.substr(close + 1);
        if (!rest.empty() && rest.front() != ':') {
            return fail(Errc::ConfigInvalid, "bad --host '" + spec + "'");
        }
        rest = rest.empty() ? "" : rest.substr(1);
    } else if (auto colon = spec.find(':');
               colon != std::string::npos && !util::is_ipv6_literal(spec)) {
        host = spec.substr(0, colon);
        rest = spec.substr(colon + 1);
    } else {
        host = spec;
    }
    if (host.empty()) {
        return fail(Errc::ConfigInvalid, "bad --host '" + spec + "': no address");
    }
    std::map<std::string, std::string> ports;
    if (rest.empty()) {
        for (const auto& row : net::kTransports) {
            ports[std::string(row.name)] = std::to_string(row.default_port);
        }
    } else if (rest.find('=') == std::string::npos) {
        ports = {{std::string(net::transport_name(net::Transport::Udp)), rest},
                 {std::string(net::transport_name(net::Transport::Tcp)), rest}};
    } else {
        std::size_t pos = 0;
        while (pos <= rest.size()) {
            auto end = rest.find(',', pos);
            const std::string item =
                rest.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
            auto eq = item.find('=');
            const std::string key = item.substr(0, eq);
            if (eq == std::string::npos || !is_transport_name(key)) {
                return fail(Errc::ConfigInvalid,
                            "bad --host port item '" + item + "' (udp=P,tcp=P,tls=P,https=P)");
            }
            ports[key] = item.substr(eq + 1);
            if (end == std::string::npos) {
                break;
            }
            pos = end + 1;
        }
    }
    return expand("", host, ports, {});
}

Result<std::vector<Target>> parse_targets_file(std::string_view text) {
    std::vector<Target> out;
    std::size_t line_no = 0, pos = 0;
    while (pos <= text.size()) {
        auto end = text.find('\n', pos);
        std::string line(
            text.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos));
        ++line_no;
        if (auto hash = line.find('#'); hash != std::string::npos) {
            line.resize(hash);
        }
        line = trim(line);
        if (!line.empty()) {
            auto t = parse_target(line);
            if (!t) {
                return fail(Errc::ConfigInvalid,
                            "line " + std::to_string(line_no) + ": " + t.error().detail);
            }
            out.insert(out.end(), t->begin(), t->end());
        }
        if (end == std::string_view::npos) {
            break;
        }
        pos = end + 1;
    }
    return out;
}

void finalize_targets(std::vector<Target>& targets, const std::string& ca_file,
                      const std::vector<std::pair<std::string, std::string>>& headers,
                      const std::string& source) {
    std::map<std::string, int> seen;
    for (auto& t : targets) {
        const auto kind = kind_of(t.url);
        if (plain_dns(t.url) && !source.empty()) {
            t.url.params.try_emplace("source", source);
        }
        if (kind == net::Transport::Udp && t.url.params.count("tc") == 0) {
            t.url.params["tc"] = "keep";
        }
        if (kind && net::row(*kind).encrypted && !ca_file.empty() &&
            t.url.params.count("ca") == 0) {
            t.url.params["ca"] = ca_file;
        }
        if (kind == net::Transport::Https) {
            // The probe wants HTTP errors as data (status, content type), not as a failure.
            t.url.params.try_emplace("errors", "exchange");
            for (const auto& [k, v] : headers) {
                t.url.params.try_emplace("header." + k, v);
            }
        }
        if (int n = ++seen[t.name]; n > 1) {
            t.name += "#" + std::to_string(n);
        }
    }
}

Result<DigWords> parse_dig_words(const std::vector<std::string>& words) {
    DigWords out;
    for (const auto& w : words) {
        if (!w.empty() && w.front() == '@') {
            if (w.size() == 1) {
                return fail(Errc::ConfigInvalid, "'@' without a server");
            }
            out.servers.push_back(w.substr(1));
        } else if (!w.empty() && w.front() == '+') {
            if (w == "+short") {
                out.short_answers = true;
            } else if (w == "+noshort") {
                out.short_answers = false;
            } else {
                return fail(Errc::ConfigInvalid,
                            "unknown option '" + w + "' (dig options understood: +short)");
            }
        } else if (out.qname.empty()) {
            out.qname = w;
        } else if (out.qtype.empty()) {
            out.qtype = w;
        } else {
            return fail(Errc::ConfigInvalid, "unexpected '" + w + "' after the name and the type");
        }
    }
    return out;
}

} // namespace probes::common
