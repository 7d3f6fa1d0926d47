// SPDX-License-Identifier: MIT
#include "resolver/util/url.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <charconv>

namespace resolver::util {
namespace {
std::string percent_decode(std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%' && i + 2 < s.size() &&
            std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
            std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
            out.push_back(
                static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16)));
            i += 2;
        } else {
            out.push_back(s[i]);
        }
    }
    return out;
}
} // namespace

bool is_ipv6_literal(std::string_view host) {
    unsigned char buf[16];
    return inet_pton(AF_INET6, std::string(host).c_str(), buf) == 1;
}

bool is_ip_literal(std::string_view host) {
    unsigned char buf[16];
    return inet_pton(AF_INET, std::string(host).c_str(), buf) == 1 || is_ipv6_literal(host);
}

std::string Url::authority() const {
    std::string out = is_ipv6_literal(host) ? "[" + host + "]" : host;
    if (port) {
        out += ":" + std::to_string(*port);
    }
    return out;
}

std::string Url::param(const std::string& key, std::string fallback) const {
    auto it = params.find(key);
    return it == params.end() ? fallback : it->second;
}

std::string Url::to_string() const {
    if (scheme == kSchemeFixture) {
        return std::string(kSchemeFixture) + ":" + host;
    }
    std::string out = scheme + "://" + authority() + path;
    char sep = '?';
    for (const auto& [k, v] : params) {
        out += sep + k + "=" + v;
        sep = '&';
    }
    return out;
}

Result<Url> parse_url(std::string_view text) {
    Url u;
    const auto colon = text.find(':');
    if (colon == std::string_view::npos || colon == 0) {
        return fail(Errc::ConfigInvalid,
                    "'" + std::string(text) +
                        "': missing scheme (udp://, tcp://, tls://, https://, fixture:)");
    }
    u.scheme = std::string(text.substr(0, colon));
    std::transform(u.scheme.begin(), u.scheme.end(), u.scheme.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    std::string_view rest = text.substr(colon + 1);
    if (u.scheme == kSchemeFixture) {
        if (rest.starts_with("//")) {
            rest.remove_prefix(2);
        }
        if (rest.empty()) {
            return fail(Errc::ConfigInvalid,
                        "'" + std::string(text) + "': fixture: needs a directory");
        }
        u.host = std::string(rest);
        return u;
    }
    if (!rest.starts_with("//")) {
        return fail(Errc::ConfigInvalid,
                    "'" + std::string(text) + "': expected '//' after the scheme");
    }
    rest.remove_prefix(2);
    if (auto q = rest.find('?'); q != std::string_view::npos) {
        std::string_view query = rest.substr(q + 1);
        rest = rest.substr(0, q);
        while (!query.empty()) {
            auto amp = query.find('&');
            std::string_view kv = query.substr(0, amp);
            auto eq = kv.find('=');
            std::string key = percent_decode(kv.substr(0, eq));
            std::string val = eq == std::string_view::npos ? "" : percent_decode(kv.substr(eq + 1));
            if (!key.empty()) {
                u.params[key] = val;
            }
            if (amp == std::string_view::npos) {
                break;
            }
            query.remove_prefix(amp + 1);
        }
    }
    std::string_view hostport = rest;
    if (auto slash = rest.find('/'); slash != std::string_view::npos) {
        hostport = rest.substr(0, slash);
        u.path = std::string(rest.substr(slash));
    }
    std::string_view port_text;
    if (hostport.starts_with("[")) {
        auto close = hostport.find(']');
        if (close == std::string_view::npos) {
            return fail(Errc::ConfigInvalid, "'" + std::string(text) + "': unbalanced '[' in host");
        }
        u.host = std::string(hostport.substr(1, close - 1));
        std::string_view after = hostport.substr(close + 1);
        if (!after.empty()) {
            if (after[0] != ':') {
                return fail(Errc::ConfigInvalid, "'" + std::string(text) + "': junk after ']'");
            }
            port_text = after.substr(1);
        }
    } else {
        auto c = hostport.rfind(':');
        if (c != std::string_view::npos && hostport.find(':') == c) {
            u.host = std::string(hostport.substr(0, c));
            port_text = hostport.substr(c + 1);
        } else {
            u.host =
                std::string(hostport); // bare IPv6 without brackets is not accepted as host:port
        }
    }
    if (u.host.empty()) {
        return fail(Errc::ConfigInvalid, "'" + std::string(text) + "': missing host");
    }
    if (!port_text.empty() || hostport.ends_with(":")) {
        unsigned v = 0;
        auto [p, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), v);
        if (port_text.empty() || ec != std::errc{} || p != port_text.data() + port_text.size() ||
            v > 65535) {
            return fail(Errc::ConfigInvalid,
                        "'" + std::string(text) + "': bad port '" + std::string(port_text) + "'");
        }
        u.port = static_cast<std::uint16_t>(v);
    }
    return u;
}

} // namespace resolver::util
