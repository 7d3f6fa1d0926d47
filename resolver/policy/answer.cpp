// SPDX-License-Identifier: MIT
#include "resolver/policy/answer.hpp"

#include "resolver/policy/domain_table.hpp"

namespace resolver::policy {
namespace {

wire::ResourceRecord address_rr(const wire::Name& owner, const net::IpAddr& a, std::uint32_t ttl) {
    wire::ResourceRecord rr;
    rr.name = owner;
    rr.ttl = ttl;
    if (a.v4) {
        rr.type = wire::rrtype::A;
        rr.rdata.assign(reinterpret_cast<const char*>(a.bytes.data() + 12), 4);
    } else {
        rr.type = wire::rrtype::AAAA;
        rr.rdata.assign(reinterpret_cast<const char*>(a.bytes.data()), 16);
    }
    return rr;
}

void add_addresses(wire::Message& m, const wire::Name& owner, const std::vector<std::string>& ips,
                   std::uint32_t ttl) {
    for (const auto& s : ips) {
        if (auto a = net::IpAddr::parse(s)) {
            m.answer.push_back(address_rr(owner, *a, ttl));
        }
    }
}

std::string fill(std::string text, const Evaluation& ev) {
    std::string cats = "[";
    const auto& ids = ev.request_context_block && !ev.request_context_categories.empty()
                          ? ev.request_context_categories
                          : ev.matched_categories;
    for (std::size_t i = 0; i < ids.size(); ++i) {
        cats += (i == 0 ? "" : ",") + std::to_string(ids[i]);
    }
    cats += "]";
    auto replace = [&](std::string_view key, const std::string& v) {
        for (auto p = text.find(key); p != std::string::npos; p = text.find(key, p + v.size())) {
            text.replace(p, key.size(), v);
        }
    };
    replace("{categories}", cats);
    replace("{rule}", ev.rule != nullptr ? ev.rule->id : std::string());
    return text;
}

bool ends_with_label(std::string_view name, std::string_view suffix) {
    if (name == suffix) {
        return true;
    }
    return name.size() > suffix.size() && name.substr(name.size() - suffix.size()) == suffix &&
           name[name.size() - suffix.size() - 1] == '.';
}

wire::ResourceRecord cname_rr(const wire::Name& owner, const wire::Name& target,
                              std::uint32_t ttl) {
    wire::ResourceRecord rr;
    rr.name = owner;
    rr.type = wire::rrtype::CNAME;
    rr.ttl = ttl;
    rr.rdata = target.lowered().wire();
    return rr;
}

} // namespace

std::optional<std::string> safe_target(std::string_view qname, Action action, const Behaviour& b) {
    const std::string name = normalize_domain(qname);
    if (action == Action::YtRestricted) {
        for (const auto& d : b.youtube_domains) {
            if (name == normalize_domain(d)) {
                return b.ytrestricted_target;
            }
        }
        return std::nullopt;
    }
    for (const auto& [suffix, target] : b.safesearch_targets) {
        if (ends_with_label(name, normalize_domain(suffix)) && name != normalize_domain(target)) {
            return target;
        }
    }
    return std::nullopt;
}

std::optional<SynthesizedAnswer> synthesize(const wire::Message& query, const Evaluation& ev,
                                            const Behaviour& b) {
    if (!ev.action || *ev.action == Action::Allow || *ev.action == Action::Resolve ||
        query.question.empty()) {
        return std::nullopt;
    }
    const wire::Question& q = query.question.front();
    const std::uint32_t ttl = b.generated_ttl;
    SynthesizedAnswer out;
    out.message = wire::make_response(query, wire::rcode::NoError);
    wire::Message& m = out.message;
    m.set_flag(wire::kFlagRa, true); // we are a recursive service (RFC 1035 §4.1.1)
    const bool a = q.qtype == wire::rrtype::A;
    const bool aaaa = q.qtype == wire::rrtype::AAAA;
    const bool https = q.qtype == wire::rrtype::HTTPS;
    const Rule* r = ev.rule;

    switch (*ev.action) {
    case Action::Block: {
        const bool page = r != nullptr && r->settings.block_page_enabled;
        if ((!a && !aaaa) || (!page && b.block_refused_all_types)) {
            m.set_rcode(wire::rcode::Refused);
        } else if (a) {
            add_addresses(m, q.qname, page ? b.block_page_ipv4 : b.block_ipv4, ttl);
        } else {
            add_addresses(m, q.qname, page ? b.block_page_ipv6 : b.block_ipv6, ttl);
        }
        if (query.edns) {
            if (ev.request_context_block && b.request_context_ede_code != 0) {
                m.add_ede(b.request_context_ede_code, fill(b.request_context_ede_text, ev));
            } else if (b.block_ede_code != 0) {
                m.add_ede(b.block_ede_code, fill(b.block_ede_text, ev));
            }
        }
        return out;
    }
    case Action::Override: {
        const auto& s = r->settings;
        if (!a && !aaaa && !https) {
            m.set_rcode(wire::rcode::Refused);
            return out;
        }
        if (!s.override_ips.empty()) {
            if (https) {
                if (b.override_https == "refused") {
                    m.set_rcode(wire::rcode::Refused);
                }
                return out; // NODATA: clients fall back to A/AAAA
            }
            for (const auto& ip : s.override_ips) {
                if (ip.v4 == a) {
                    m.answer.push_back(address_rr(q.qname, ip, ttl));
                }
            }
            return out;
        }
        auto target = wire::Name::from_text(s.override_host);
        if (!target) {
            m.set_rcode(wire::rcode::ServFail);
            return out;
        }
        out.flatten = b.override_host_mode == "flatten";
        if (!out.flatten) {
            m.answer.push_back(cname_rr(q.qname, *target, ttl));
        }
        out.pending_target = *target;
        return out;
    }
    case Action::SafeSearch:
    case Action::YtRestricted: {
        auto t = safe_target(q.qname.to_gateway_text(), *ev.action, b);
        if (!t) {
            return std::nullopt;
        }
        auto target = wire::Name::from_text(*t);
        if (!target) {
            return std::nullopt;
        }
        m.answer.push_back(cname_rr(q.qname, *target, ttl));
        out.pending_target = *target;
        return out;
    }
    case Action::Allow:
    case Action::Resolve:
        break;
    }
    return std::nullopt;
}

void complete_answer(SynthesizedAnswer& answer, const wire::Message& target_response) {
    wire::Message& m = answer.message;
    const wire::Question& q = m.question.front();
    for (const auto& rr : target_response.answer) {
        if (answer.flatten) {
            if (rr.type == q.qtype) {
                wire::ResourceRecord copy = rr;
                copy.name = q.qname;
                m.answer.push_back(std::move(copy));
            }
        } else {
            m.answer.push_back(rr);
        }
    }
    m.set_rcode(target_response.rcode());
    answer.pending_target.reset();
}

} // namespace resolver::policy
