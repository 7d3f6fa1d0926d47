// SPDX-License-Identifier: MIT
#include "probes/check/expectations.hpp"

#include <algorithm>
#include <sstream>

#include <toml++/toml.h>

#include "probes/common/strings.hpp"
#include "probes/compare/diff.hpp"
#include "resolver/util/url.hpp"
#include "resolver/wire/message.hpp"

namespace probes::check {
namespace wire = resolver::wire;
using resolver::Errc;
using resolver::fail;
using resolver::Result;

using common::lower;

namespace {

std::string fqdn(std::string s) {
    s = lower(std::move(s));
    if (s.empty() || s.back() != '.') {
        s += '.';
    }
    return s;
}

std::string join(const std::vector<std::string>& v) {
    std::string out;
    for (const auto& s : v) {
        out += (out.empty() ? "" : " ") + s;
    }
    return out.empty() ? "(none)" : out;
}

std::vector<std::string> records_of(const compare::Observation& o, std::uint16_t type) {
    std::vector<std::string> out;
    for (const auto& s : o.answer) {
        if (s.type == type) {
            out.insert(out.end(), s.rdata.begin(), s.rdata.end());
        }
    }
    std::sort(out.begin(), out.end());
    return out;
}

// Accepts a string or an array of strings.
std::optional<std::vector<std::string>> strings(const toml::node* n) {
    if (n == nullptr) {
        return std::nullopt;
    }
    std::vector<std::string> out;
    if (auto s = n->value<std::string>()) {
        out.push_back(*s);
    } else if (const auto* arr = n->as_array()) {
        for (const auto& item : *arr) {
            if (auto s2 = item.value<std::string>()) {
                out.push_back(*s2);
            }
        }
    }
    return out;
}

} // namespace

const std::vector<std::string>& safesearch_hosts() {
    static const std::vector<std::string> kHosts{"forcesafesearch.google.com.", "strict.bing.com.",
                                                 "safe.duckduckgo.com.", "restrict.youtube.com.",
                                                 "restrictmoderate.youtube.com."};
    return kHosts;
}

Result<std::vector<Case>> parse_cases(const std::string& text) {
    toml::table doc;
    try {
        doc = toml::parse(text);
    } catch (const toml::parse_error& e) {
        std::ostringstream msg;
        msg << "line " << e.source().begin.line << ": " << e.description();
        return fail(Errc::ConfigInvalid, msg.str());
    }
    const toml::table* defaults = doc["defaults"].as_table();
    const toml::array* cases = doc["case"].as_array();
    if (cases == nullptr || cases->empty()) {
        return fail(Errc::ConfigInvalid, "no [[case]] entries");
    }
    std::vector<Case> out;
    std::size_t index = 0;
    for (const auto& node : *cases) {
        ++index;
        const auto* t = node.as_table();
        if (t == nullptr) {
            return fail(Errc::ConfigInvalid, "case " + std::to_string(index) + " is not a table");
        }
        auto get = [&](const char* key) -> const toml::node* {
            if (const auto* n = t->get(key)) {
                return n;
            }
            return defaults != nullptr ? defaults->get(key) : nullptr;
        };
        for (const auto& [key, value] : *t) {
            static const std::vector<std::string_view> kKeys{
                "id",       "name",    "type",   "transports", "location", "source", "sni",
                "doh_path", "headers", "expect", "rcode",      "answer",   "ede"};
            if (std::find(kKeys.begin(), kKeys.end(), key.str()) == kKeys.end()) {
                return fail(Errc::ConfigInvalid, "case " + std::to_string(index) +
                                                     ": unknown key '" + std::string(key.str()) +
                                                     "'");
            }
            (void)value;
        }
        Case c;
        const std::string where = "case " + std::to_string(index);
        auto name = get("name") != nullptr ? get("name")->value<std::string>() : std::nullopt;
        if (!name || !wire::Name::from_text(*name)) {
            return fail(Errc::ConfigInvalid, where + ": `name` must be a domain name");
        }
        c.qname = *name;
        if (const auto* n = get("type")) {
            auto ts = n->value<std::string>();
            auto type = ts ? wire::type_from_name(*ts) : std::nullopt;
            if (!type) {
                return fail(Errc::ConfigInvalid, where + ": bad `type`");
            }
            c.qtype = *type;
        }
        c.id = get("id") != nullptr ? get("id")->value_or(std::string{}) : "";
        if (c.id.empty()) {
            c.id = c.qname + " " + wire::type_name(c.qtype);
        }
        c.transports = strings(get("transports")).value_or(std::vector<std::string>{});
        c.location = get("location") != nullptr ? get("location")->value_or(std::string{}) : "";
        c.source = get("source") != nullptr ? get("source")->value_or(std::string{}) : "";
        if (!c.source.empty() && !resolver::util::is_ip_literal(c.source)) {
            return fail(Errc::ConfigInvalid,
                        where + ": `source` must be an IP address of this machine");
        }
        c.sni = get("sni") != nullptr ? get("sni")->value_or(std::string{}) : "";
        c.doh_path = get("doh_path") != nullptr ? get("doh_path")->value_or(std::string{}) : "";
        if (const auto* h = get("headers"); h != nullptr && h->as_table() != nullptr) {
            for (const auto& [k, v] : *h->as_table()) {
                c.headers[lower(std::string(k.str()))] = v.value_or(std::string{});
            }
        }
        c.outcome = get("expect") != nullptr ? get("expect")->value_or(std::string{}) : "";
        static const std::vector<std::string> kOutcomes{"blocked", "blockpage", "blocked-any",
                                                        "allowed", "safesearch"};
        if (!c.outcome.empty() && c.outcome.rfind("override:", 0) != 0 &&
            std::find(kOutcomes.begin(), kOutcomes.end(), c.outcome) == kOutcomes.end()) {
            return fail(
                Errc::ConfigInvalid,
                where + ": unknown `expect` '" + c.outcome +
                    "' (blocked, blockpage, blocked-any, allowed, safesearch, override:IPS|HOST)");
        }
        if (const auto* r = get("rcode")) {
            auto rc = r->value<std::string>() ? wire::rcode_from_name(*r->value<std::string>())
                                              : std::nullopt;
            if (!rc) {
                return fail(Errc::ConfigInvalid, where + ": bad `rcode`");
            }
            c.rcode = *rc;
        }
        if (auto a = strings(get("answer"))) {
            std::vector<std::string> canon;
            for (const auto& x : *a) {
                canon.push_back(compare::canonical_rdata_text(c.qtype, x));
            }
            std::sort(canon.begin(), canon.end());
            c.answer = canon;
        }
        if (const auto* e = get("ede")) {
            // value_exact: toml++'s value<int64_t>() converts floats with an out-of-range
            // static_cast (undefined behaviour) before checking that the value fits.
            auto code = [](const toml::node& n) -> std::optional<std::uint16_t> {
                const auto v = n.value_exact<std::int64_t>();
                if (!v || *v < 0 || *v > 65535) {
                    return std::nullopt;
                }
                return static_cast<std::uint16_t>(*v);
            };
            const auto* arr = e->as_array();
            bool ok = arr != nullptr || code(*e).has_value();
            if (arr == nullptr && ok) {
                c.ede.push_back(*code(*e));
            }
            for (std::size_t i = 0; arr != nullptr && i < arr->size() && ok; ++i) {
                const auto one = code(*arr->get(i));
                ok = one.has_value();
                if (ok) {
                    c.ede.push_back(*one);
                }
            }
            if (!ok) {
                return fail(Errc::ConfigInvalid,
                            where + ": `ede` must be an EDE code (0-65535) or a list of them");
            }
        }
        if (c.outcome.empty() && !c.rcode && !c.answer && c.ede.empty()) {
            return fail(Errc::ConfigInvalid,
                        where + ": nothing expected (set expect, rcode, answer or ede)");
        }
        out.push_back(std::move(c));
    }
    return out;
}

std::vector<std::string> evaluate(const Case& c, const compare::Observation& o) {
    std::vector<std::string> why;
    if (o.error) {
        why.push_back("no answer: " + *o.error);
        return why;
    }
    if (!o.answered) {
        why.push_back("no DNS answer");
        return why;
    }
    const auto labels = compare::sinkhole_labels(o, c.qtype);
    auto label_text = [&] {
        return labels.empty() ? std::string("no block shape") : "labels " + join(labels);
    };
    if (c.rcode && o.rcode != *c.rcode) {
        why.push_back("rcode " + wire::rcode_name(o.rcode) + ", expected " +
                      wire::rcode_name(*c.rcode));
    }
    const auto got = records_of(o, c.qtype);
    if (c.answer && got != *c.answer) {
        why.push_back("answer {" + join(got) + "}, expected {" + join(*c.answer) + "}");
    }
    for (auto code : c.ede) {
        if (std::none_of(o.ede.begin(), o.ede.end(),
                         [&](const compare::Ede& e) { return e.code == code; })) {
            std::vector<std::string> have;
            for (const auto& e : o.ede) {
                have.push_back(std::to_string(e.code));
            }
            why.push_back("EDE " + std::to_string(code) + " missing (got " + join(have) + ")");
        }
    }
    std::vector<std::string> cnames;
    for (const auto& s : o.answer) {
        if (s.type == wire::rrtype::CNAME) {
            cnames.insert(cnames.end(), s.rdata.begin(), s.rdata.end());
        }
    }
    const bool page = std::find(labels.begin(), labels.end(), "blockpage") != labels.end();
    if (c.outcome == "blocked") {
        // The block answer without the block page: a block page is another outcome (Gateway's
        // "Display block page" setting), so it does not count here.
        if (page) {
            why.push_back("expected a block without the block page, got the block page {" +
                          join(got) + "}");
        } else if (!compare::is_block(labels)) {
            why.push_back("expected a block, got " + wire::rcode_name(o.rcode) + " {" + join(got) +
                          "}");
        }
    } else if (c.outcome == "blocked-any") {
        if (!compare::is_block(labels)) {
            why.push_back("expected a block or the block page, got " + wire::rcode_name(o.rcode) +
                          " {" + join(got) + "}");
        }
    } else if (c.outcome == "blockpage") {
        if (std::find(labels.begin(), labels.end(), "blockpage") == labels.end()) {
            why.push_back("expected the block page IPs, got " + wire::rcode_name(o.rcode) + " {" +
                          join(got) + "}, " + label_text());
        }
    } else if (c.outcome == "allowed") {
        if (compare::is_block(labels) ||
            (o.rcode != wire::rcode::NoError && o.rcode != wire::rcode::NxDomain)) {
            why.push_back("expected an ordinary answer, got " + wire::rcode_name(o.rcode) + ", " +
                          label_text());
        }
    } else if (c.outcome == "safesearch") {
        const auto& hosts = safesearch_hosts();
        if (std::none_of(cnames.begin(), cnames.end(), [&](const std::string& t) {
                return std::find(hosts.begin(), hosts.end(), t) != hosts.end();
            })) {
            why.push_back("expected a CNAME to a safe-search host, got CNAME {" + join(cnames) +
                          "}");
        }
    } else if (c.outcome.rfind("override:", 0) == 0) {
        const std::string spec = c.outcome.substr(9);
        std::vector<std::string> items;
        std::stringstream ss(spec);
        for (std::string item; std::getline(ss, item, ',');) {
            if (!item.empty()) {
                items.push_back(item);
            }
        }
        const bool ips =
            !items.empty() && std::all_of(items.begin(), items.end(), [](const std::string& i) {
                return resolver::util::is_ip_literal(i);
            });
        if (ips) {
            // Only the addresses of the asked family can appear (A for IPv4, AAAA for IPv6).
            std::vector<std::string> want;
            for (const auto& i : items) {
                const bool v6 = resolver::util::is_ipv6_literal(i);
                if ((c.qtype == wire::rrtype::A && !v6) || (c.qtype == wire::rrtype::AAAA && v6)) {
                    want.push_back(compare::canonical_rdata_text(c.qtype, i));
                }
            }
            std::sort(want.begin(), want.end());
            if (got != want) {
                why.push_back("expected override {" + join(want) + "}, got {" + join(got) + "}");
            }
        } else if (items.size() == 1) {
            const auto host = fqdn(items[0]);
            if (std::find(cnames.begin(), cnames.end(), host) == cnames.end()) {
                why.push_back("expected a CNAME to " + host + ", got CNAME {" + join(cnames) + "}");
            }
        } else {
            why.push_back("bad override expectation '" + spec + "'");
        }
    }
    return why;
}

} // namespace probes::check
