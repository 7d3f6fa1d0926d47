// SPDX-License-Identifier: MIT
// The endpoints a self-test talks to: from the lab's ready file, a --lab-host spec, or the
// Gateway flags (--doh, --dot, --ipv4, --ipv6, --location).
#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>

#include "probes/selftest/selftest.hpp"
#include "resolver/util/url.hpp"

namespace probes::selftest {
using resolver::Errc;
using resolver::fail;
namespace net = resolver::net;
namespace util = resolver::util;

namespace {

std::string host_part(const std::string& host) {
    return util::is_ipv6_literal(host) ? "[" + host + "]" : host;
}

// "ADDR", "ADDR:PORT", "[V6]:PORT" or a bare IPv6 literal -> (host, port).
resolver::Result<std::pair<std::string, std::uint16_t>> split_host_port(const std::string& spec,
                                                                        std::uint16_t def) {
    std::string host = spec;
    std::string port;
    if (!spec.empty() && spec.front() == '[') {
        auto close = spec.find(']');
        if (close == std::string::npos) {
            return fail(Errc::ConfigInvalid, "bad address '" + spec + "'");
        }
        host = spec.substr(1, close - 1);
        if (close + 1 < spec.size()) {
            if (spec[close + 1] != ':') {
                return fail(Errc::ConfigInvalid, "bad address '" + spec + "'");
            }
            port = spec.substr(close + 2);
        }
    } else if (std::count(spec.begin(), spec.end(), ':') == 1) {
        host = spec.substr(0, spec.find(':'));
        port = spec.substr(spec.find(':') + 1);
    }
    std::uint16_t p = def;
    if (!port.empty()) {
        char* end = nullptr;
        const long v = std::strtol(port.c_str(), &end, 10);
        if (*end != '\0' || v <= 0 || v > 65535) {
            return fail(Errc::ConfigInvalid, "bad port in '" + spec + "'");
        }
        p = static_cast<std::uint16_t>(v);
    }
    if (host.empty()) {
        return fail(Errc::ConfigInvalid, "no host in '" + spec + "'");
    }
    return std::make_pair(host, p);
}

resolver::Result<common::Target> make_target(const std::string& id, const std::string& text) {
    auto url = util::parse_url(text);
    if (!url) {
        return url.error();
    }
    return common::Target{id, *url, common::transport_of(*url)};
}

using EndpointMap = std::map<std::string, common::Target>;

// The plain DNS endpoints udp4/tcp4 (udp6/tcp6) for `host`; ids are the scheme plus family.
resolver::Status add_do53(EndpointMap& m, const std::string& host, std::uint16_t port, bool udp,
                          bool tcp) {
    const std::string fam = util::is_ipv6_literal(host) ? "6" : "4";
    const std::string hp = host_part(host) + ":" + std::to_string(port);
    for (auto [on, kind] :
         {std::pair{udp, net::Transport::Udp}, std::pair{tcp, net::Transport::Tcp}}) {
        if (!on) {
            continue;
        }
        const std::string scheme(net::transport_name(kind));
        auto t = make_target(scheme + fam, scheme + "://" + hp);
        if (!t) {
            return t.error();
        }
        m[scheme + fam] = *t;
    }
    return resolver::ok();
}

resolver::Status add_dot(EndpointMap& m, const std::string& authority) {
    auto t = make_target("dot",
                         std::string(net::transport_name(net::Transport::Tls)) + "://" + authority);
    if (!t) {
        return t.error();
    }
    m["dot"] = *t;
    return resolver::ok();
}

void add_doh(EndpointMap& m, const util::Url& base) {
    for (auto [id, http] : {std::pair{"doh-h2", "2"}, std::pair{"doh-h1", "1.1"}}) {
        util::Url u = base;
        u.params["method"] = "post";
        u.params["http"] = http;
        if (u.path.empty()) {
            u.path = "/dns-query";
        }
        m[id] = common::Target{id, u, common::transport_of(u)};
    }
}

resolver::Status read_ready(Options& o, EndpointMap& m) {
    std::ifstream in(o.lab_ready);
    if (!in) {
        return fail(Errc::ConfigInvalid,
                    "cannot read lab ready file " + o.lab_ready +
                        " (start the lab resolver with --ready-file, docs/selftest.md)");
    }
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("ca ", 0) == 0) {
            if (o.ca.empty()) {
                o.ca = line.substr(3);
            }
            continue;
        }
        auto url = util::parse_url(line);
        if (!url || line.empty()) {
            continue; // lines of other kinds are for other readers
        }
        const auto port = url->port_or(0);
        const auto kind = common::kind_of(*url);
        resolver::Status st = resolver::ok();
        if (url->scheme == "dns") { // the resolver's UDP-and-TCP listener form
            st = add_do53(m, url->host, port, true, true);
        } else if (kind == net::Transport::Udp || kind == net::Transport::Tcp) {
            st = add_do53(m, url->host, port, kind == net::Transport::Udp,
                          kind == net::Transport::Tcp);
        } else if (kind == net::Transport::Tls) {
            if (m.count("dot") == 0U) {
                st = add_dot(m, url->authority());
            }
        } else if (kind == net::Transport::Https) {
            if (m.count("doh-h2") == 0U) {
                util::Url u = *url;
                u.params.clear();
                add_doh(m, u);
            }
        }
        if (!st) {
            return st;
        }
    }
    return resolver::ok();
}

} // namespace

resolver::Result<std::vector<Endpoint>> build_endpoints(Options& o) {
    EndpointMap m;
    if (!o.lab_ready.empty()) {
        if (auto st = read_ready(o, m); !st) {
            return st.error();
        }
    }
    if (!o.lab_host.empty()) {
        auto ts = common::parse_host(o.lab_host);
        if (!ts) {
            return ts.error();
        }
        for (const auto& t : *ts) {
            const auto port = t.url.port_or(0);
            const auto kind = common::kind_of(t.url);
            resolver::Status st = resolver::ok();
            if (kind == net::Transport::Udp || kind == net::Transport::Tcp) {
                st = add_do53(m, t.url.host, port, kind == net::Transport::Udp,
                              kind == net::Transport::Tcp);
            } else if (kind == net::Transport::Tls) {
                st = add_dot(m, t.url.authority());
            } else if (kind == net::Transport::Https && t.url.param("method") == "post") {
                util::Url u = t.url;
                u.params.clear();
                add_doh(m, u);
            }
            if (!st) {
                return st.error();
            }
        }
    }
    // Explicit endpoints (Gateway profile, or overriding one lab endpoint).
    if (!o.ipv4.empty() || !o.ipv6.empty()) {
        for (const auto* spec : {&o.ipv4, &o.ipv6}) {
            if (spec->empty()) {
                continue;
            }
            auto hp = split_host_port(*spec, net::row(net::Transport::Udp).default_port);
            if (!hp) {
                return hp.error();
            }
            const bool v6 = util::is_ipv6_literal(hp->first);
            if (v6 != (spec == &o.ipv6) || !util::is_ip_literal(hp->first)) {
                return fail(Errc::ConfigInvalid, "'" + *spec + "' is not an IPv" +
                                                     (spec == &o.ipv6 ? "6" : "4") + " address");
            }
            if (auto st = add_do53(m, hp->first, hp->second, true, true); !st) {
                return st.error();
            }
        }
    }
    if (!o.dot.empty()) {
        std::string spec = o.dot;
        if (const std::string scheme =
                std::string(net::transport_name(net::Transport::Tls)) + "://";
            spec.rfind(scheme, 0) == 0) {
            spec = spec.substr(scheme.size());
        }
        auto hp = split_host_port(spec.substr(0, spec.find('?')),
                                  net::row(net::Transport::Tls).default_port);
        if (!hp) {
            return hp.error();
        }
        if (auto st = add_dot(m, host_part(hp->first) + ":" + std::to_string(hp->second)); !st) {
            return st.error();
        }
    }
    if (!o.doh.empty()) {
        auto url = util::parse_url(o.doh);
        if (!url || url->scheme != net::transport_name(net::Transport::Https)) {
            return fail(Errc::ConfigInvalid,
                        "--doh wants https://HOST[:PORT]/PATH, got '" + o.doh + "'");
        }
        add_doh(m, *url);
    }
    std::vector<Endpoint> out;
    std::vector<common::Target> targets;
    for (const char* id : {"udp4", "tcp4", "udp6", "tcp6", "dot", "doh-h2", "doh-h1"}) {
        if (auto it = m.find(id); it != m.end()) {
            targets.push_back(it->second);
        }
    }
    if (targets.empty()) {
        return fail(Errc::ConfigInvalid, "nothing to test: give --lab READY_FILE, --lab-host, or "
                                         "Gateway endpoints (--doh, --dot, --ipv4, --ipv6)");
    }
    common::finalize_targets(targets, o.ca, {});
    for (auto& t : targets) {
        out.push_back(Endpoint{t.name, t});
    }
    return out;
}

} // namespace probes::selftest
