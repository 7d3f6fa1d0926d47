// SPDX-License-Identifier: MIT
#include "probes/selftest/local_info.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/utsname.h>

#include <array>
#include <cstdio>
#include <cstring>
#include <optional>
#include <fstream>
#include <set>
#include <sstream>

#include <nghttp2/nghttp2.h>
#include <openssl/crypto.h>
#include <ares.h>
#include <uv.h>

#include "resolver/util/ldns.hpp"

namespace probes::selftest {
using nlohmann::json;

namespace {

std::string slurp(const std::string& path, bool& ok) {
    std::ifstream in(path, std::ios::binary);
    ok = static_cast<bool>(in);
    std::ostringstream s;
    if (ok) {
        s << in.rdbuf();
    }
    return s.str();
}

// Runs a fixed command line (no user input reaches it) and returns stdout, or nullopt when
// the command does not exist or fails.
std::optional<std::string> command_output(const std::string& cmd) {
    FILE* p = popen(cmd.c_str(), "r");
    if (p == nullptr) {
        return std::nullopt;
    }
    std::string out;
    std::array<char, 4096> buf{};
    std::size_t n = 0;
    while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) {
        out.append(buf.data(), n);
    }
    const int rc = pclose(p);
    if (rc != 0) {
        return std::nullopt;
    }
    return out;
}

} // namespace

ResolvConf parse_resolv_conf(const std::string& text) {
    ResolvConf rc;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        if (auto c = line.find_first_of("#;"); c != std::string::npos) {
            line.erase(c);
        }
        std::istringstream words(line);
        std::string key;
        if (!(words >> key)) {
            continue;
        }
        std::string w;
        if (key == "nameserver") {
            if (words >> w) {
                rc.nameservers.push_back(w);
            }
        } else if (key == "search" || key == "domain") {
            while (words >> w) {
                rc.search.push_back(w);
            }
        } else if (key == "options") {
            while (words >> w) {
                rc.options.push_back(w);
            }
        }
    }
    return rc;
}

json parse_os_release(const std::string& text) {
    json out = json::object();
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        auto eq = line.find('=');
        if (eq == std::string::npos || line.empty() || line[0] == '#') {
            continue;
        }
        std::string v = line.substr(eq + 1);
        if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'') && v.back() == v.front()) {
            v = v.substr(1, v.size() - 2);
        }
        out[line.substr(0, eq)] = v;
    }
    return out;
}

std::vector<std::string> find_addresses(const std::string& text) {
    std::vector<std::string> out;
    std::set<std::string> seen;
    auto is_tok = [](char c) {
        return std::isxdigit(static_cast<unsigned char>(c)) != 0 || c == '.' || c == ':';
    };
    std::size_t i = 0;
    while (i < text.size()) {
        if (!is_tok(text[i])) {
            ++i;
            continue;
        }
        std::size_t j = i;
        while (j < text.size() && is_tok(text[j])) {
            ++j;
        }
        std::string tok = text.substr(i, j - i);
        // "1.2.3.4:53" or "[::1]:53" forms and trailing punctuation.
        while (!tok.empty() && (tok.back() == '.' || tok.back() == ':')) {
            tok.pop_back();
        }
        unsigned char buf[16];
        std::string candidate = tok;
        if (inet_pton(AF_INET6, candidate.c_str(), buf) != 1 &&
            inet_pton(AF_INET, candidate.c_str(), buf) != 1) {
            // IPv4 with a port suffix.
            auto colon = tok.rfind(':');
            candidate = colon == std::string::npos ? "" : tok.substr(0, colon);
            if (candidate.find(':') != std::string::npos ||
                inet_pton(AF_INET, candidate.c_str(), buf) != 1) {
                candidate.clear();
            }
        }
        if (!candidate.empty() && candidate.find_first_of(".:") != std::string::npos &&
            seen.insert(candidate).second) {
            out.push_back(candidate);
        }
        i = j;
    }
    return out;
}

bool is_local_only(const std::string& address) {
    unsigned char b[16];
    if (inet_pton(AF_INET, address.c_str(), b) == 1) {
        return b[0] == 127 || b[0] == 0 || (b[0] == 169 && b[1] == 254);
    }
    if (inet_pton(AF_INET6, address.c_str(), b) == 1) {
        in6_addr a{};
        std::memcpy(&a, b, 16);
        return IN6_IS_ADDR_LOOPBACK(&a) || IN6_IS_ADDR_UNSPECIFIED(&a) || IN6_IS_ADDR_LINKLOCAL(&a);
    }
    return false;
}

LocalFacts collect_local_facts(const std::string& resolv_conf_path,
                               const std::string& tool_version) {
    LocalFacts f;
    std::set<std::string> customer;
    auto note = [&](const std::string& a) {
        if (!is_local_only(a)) {
            customer.insert(a);
        }
    };

    bool ok = false;
    const auto rc_text = slurp(resolv_conf_path, ok);
    json rc = {{"path", resolv_conf_path}, {"readable", ok}};
    if (ok) {
        const auto parsed = parse_resolv_conf(rc_text);
        rc["nameservers"] = parsed.nameservers;
        rc["search"] = parsed.search;
        rc["options"] = parsed.options;
        for (const auto& ns : parsed.nameservers) {
            note(ns);
        }
    }
    f.json["resolv_conf"] = rc;

    // systemd-resolved: `timeout` bounds a hung D-Bus; absent command -> "present": false.
    json sd = {{"present", false}};
    if (auto out = command_output("timeout 3 resolvectl status --no-pager 2>/dev/null")) {
        sd["present"] = true;
        sd["status"] = *out;
        std::vector<std::string> servers;
        for (const auto& a : find_addresses(*out)) {
            servers.push_back(a);
            note(a);
        }
        sd["addresses"] = servers;
    }
    f.json["systemd_resolved"] = sd;

    json ifs = json::array();
    ifaddrs* list = nullptr;
    if (getifaddrs(&list) == 0) {
        for (auto* i = list; i != nullptr; i = i->ifa_next) {
            if (i->ifa_addr == nullptr ||
                (i->ifa_addr->sa_family != AF_INET && i->ifa_addr->sa_family != AF_INET6)) {
                continue;
            }
            char buf[INET6_ADDRSTRLEN] = {};
            const void* src = i->ifa_addr->sa_family == AF_INET
                                  ? static_cast<const void*>(
                                        &reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr)
                                  : static_cast<const void*>(
                                        &reinterpret_cast<sockaddr_in6*>(i->ifa_addr)->sin6_addr);
            if (inet_ntop(i->ifa_addr->sa_family, src, buf, sizeof buf) == nullptr) {
                continue;
            }
            ifs.push_back({{"interface", i->ifa_name}, {"address", buf}});
            note(buf);
        }
        freeifaddrs(list);
    }
    f.json["interfaces"] = ifs;

    const auto os_text = slurp("/etc/os-release", ok);
    f.json["os_release"] = ok ? parse_os_release(os_text) : json::object();
    utsname u{};
    if (uname(&u) == 0) {
        f.json["uname"] = {{"sysname", u.sysname},
                           {"release", u.release},
                           {"version", u.version},
                           {"machine", u.machine},
                           {"nodename", u.nodename}};
        f.hostname = u.nodename;
    }
    f.json["tools"] = {
        {"dnslab-probe", tool_version}, {"openssl", OpenSSL_version(OPENSSL_VERSION)},
        {"libuv", uv_version_string()}, {"c-ares", ares_version(nullptr)},
        {"ldns", ldns_version()},       {"nghttp2", nghttp2_version(0)->version_str}};
    f.customer_addresses.assign(customer.begin(), customer.end());
    return f;
}

} // namespace probes::selftest
