// SPDX-License-Identifier: MIT
#include "probes/compare/diff.hpp"

#include <algorithm>
#include <cstdlib>
#include <iterator>
#include <map>
#include <set>

namespace probes::compare {
namespace wire = resolver::wire;
namespace {

std::string section_text(const std::vector<RRset>& sets) {
    if (sets.empty()) {
        return "(empty)";
    }
    std::string out;
    for (const auto& s : sets) {
        if (!out.empty()) {
            out += "; ";
        }
        out += s.to_text(false);
    }
    return out;
}

bool same_data(const std::vector<RRset>& a, const std::vector<RRset>& b) {
    return a.size() == b.size() &&
           std::equal(a.begin(), a.end(), b.begin(), [](const RRset& x, const RRset& y) {
               return x.name == y.name && x.type == y.type && x.rclass == y.rclass &&
                      x.rdata == y.rdata;
           });
}

std::string ede_text(const std::vector<Ede>& edes) {
    if (edes.empty()) {
        return "(none)";
    }
    std::string out;
    for (const auto& e : edes) {
        if (!out.empty()) {
            out += ", ";
        }
        out += std::to_string(e.code);
        if (!e.text.empty()) {
            out += " \"" + e.text + "\"";
        }
    }
    return out;
}

std::string bool_text(bool v) {
    return v ? "set" : "clear";
}

std::uint32_t gap(std::uint32_t x, std::uint32_t y) {
    return x > y ? x - y : y - x;
}

// First RRset pair (same data) whose TTLs are further apart than the tolerance.
std::optional<std::pair<const RRset*, const RRset*>>
ttl_gap(const std::vector<RRset>& a, const std::vector<RRset>& b, std::uint32_t tolerance) {
    for (std::size_t i = 0; i < a.size() && i < b.size(); ++i) {
        if (gap(a[i].ttl, b[i].ttl) > tolerance) {
            return std::make_pair(&a[i], &b[i]);
        }
    }
    return std::nullopt;
}

bool has_data_for(const Observation& o) {
    return o.answered && o.rcode == wire::rcode::NoError && !o.answer.empty();
}

} // namespace

bool CompareOptions::ignored(const std::string& field) const {
    for (const auto& i : ignore) {
        if (field == i || (field.size() > i.size() && field.compare(0, i.size(), i) == 0 &&
                           field[i.size()] == '.')) {
            return true;
        }
    }
    return false;
}

std::vector<Difference> differences(const Observation& a, const Observation& b,
                                    const CompareOptions& opts) {
    std::vector<Difference> out;
    auto check = [&](const std::string& field, bool differs, auto&& text_a, auto&& text_b) {
        if (differs && !opts.ignored(field)) {
            out.push_back(Difference{field, text_a(), text_b()});
        }
    };
#define PROBE_CHECK(field, differs, ta, tb)                                                        \
    check(                                                                                         \
        field, differs, [&] { return ta; }, [&] { return tb; })
    // Between two DoH targets that both got an HTTP response, the status explains more
    // than "one failed", so it comes first.
    if (a.doh && b.doh && a.http_status != 0 && b.http_status != 0) {
        PROBE_CHECK("http.status", a.http_status != b.http_status, std::to_string(a.http_status),
                    std::to_string(b.http_status));
        PROBE_CHECK("http.content_type", a.content_type_ok != b.content_type_ok,
                    a.content_type.empty() ? "(none)" : a.content_type,
                    b.content_type.empty() ? "(none)" : b.content_type);
    }
    // A failed exchange only ever agrees with another failure; the error texts themselves
    // name ports and timings, so they are not compared.
    PROBE_CHECK("error", a.error.has_value() != b.error.has_value(), a.error.value_or("answered"),
                b.error.value_or("answered"));
    PROBE_CHECK("answered", a.answered != b.answered, a.answered ? "DNS answer" : "no DNS answer",
                b.answered ? "DNS answer" : "no DNS answer");
    if (!a.answered || !b.answered) {
        return out;
    }
    if (a.opcode && b.opcode) {
        PROBE_CHECK("opcode", *a.opcode != *b.opcode, std::to_string(*a.opcode),
                    std::to_string(*b.opcode));
    }
    PROBE_CHECK("rcode", a.rcode != b.rcode, wire::rcode_name(a.rcode), wire::rcode_name(b.rcode));
    PROBE_CHECK("question",
                a.has_question != b.has_question || a.qname != b.qname || a.qtype != b.qtype ||
                    a.qclass != b.qclass,
                a.qname + " " + wire::type_name(a.qtype), b.qname + " " + wire::type_name(b.qtype));
    // TC before the answer: a truncated UDP answer lacks records because it was cut (RFC
    // 1035 §4.2.1, RFC 7766 §5), which is what the difference is, not its missing data.
    if (a.flags.tc && b.flags.tc) {
        PROBE_CHECK("flags.tc", *a.flags.tc != *b.flags.tc, bool_text(*a.flags.tc),
                    bool_text(*b.flags.tc));
    }
    const bool cut = a.flags.tc.value_or(false) || b.flags.tc.value_or(false);
    PROBE_CHECK("answer", !cut && !same_data(a.answer, b.answer), section_text(a.answer),
                section_text(b.answer));
    const std::pair<const char*, std::optional<bool> Flags::*> bits[] = {{"flags.aa", &Flags::aa},
                                                                         {"flags.rd", &Flags::rd},
                                                                         {"flags.ra", &Flags::ra},
                                                                         {"flags.ad", &Flags::ad},
                                                                         {"flags.cd", &Flags::cd}};
    for (const auto& [name, member] : bits) {
        const auto& fa = a.flags.*member;
        const auto& fb = b.flags.*member;
        if (fa && fb) {
            PROBE_CHECK(name, *fa != *fb, bool_text(*fa), bool_text(*fb));
        }
    }
    PROBE_CHECK("authority", !cut && !same_data(a.authority, b.authority),
                section_text(a.authority), section_text(b.authority));
    PROBE_CHECK("additional", !cut && !same_data(a.additional, b.additional),
                section_text(a.additional), section_text(b.additional));
    auto codes = [](const std::vector<Ede>& e) {
        std::vector<std::uint16_t> c;
        for (const auto& x : e) {
            c.push_back(x.code);
        }
        return c;
    };
    PROBE_CHECK("ede", codes(a.ede) != codes(b.ede), ede_text(a.ede), ede_text(b.ede));
    PROBE_CHECK("ede.text",
                a.ede.size() == b.ede.size() &&
                    !std::equal(a.ede.begin(), a.ede.end(), b.ede.begin(),
                                [](const Ede& x, const Ede& y) { return x.text == y.text; }),
                ede_text(a.ede), ede_text(b.ede));
    if (a.edns && b.edns) {
        PROBE_CHECK("edns", *a.edns != *b.edns, *a.edns ? "OPT present" : "no OPT",
                    *b.edns ? "OPT present" : "no OPT");
        if (*a.edns && *b.edns) {
            PROBE_CHECK("edns.udp_size", a.udp_size != b.udp_size, std::to_string(a.udp_size),
                        std::to_string(b.udp_size));
        }
    }
    if (opts.ttl_strict) {
        using Section = std::vector<RRset> Observation::*;
        const std::pair<const char*, Section> sections[] = {
            {"answer.ttl", &Observation::answer}, {"authority.ttl", &Observation::authority}};
        for (const auto& [field, section] : sections) {
            if (auto g = ttl_gap(a.*section, b.*section, opts.ttl_tolerance)) {
                PROBE_CHECK(field, true, g->first->to_text(), g->second->to_text());
            }
        }
    }
#undef PROBE_CHECK
    return out;
}

std::optional<Difference> first_difference(const Observation& a, const Observation& b,
                                           const CompareOptions& opts) {
    auto all = differences(a, b, opts);
    if (all.empty()) {
        return std::nullopt;
    }
    return all.front();
}

bool is_cosmetic(const std::string& field) {
    // What an application does not see: who is authoritative (AA), recursion flags echoed
    // or offered (RD, RA, CD), the referral and glue sections, EDE texts, the EDNS framing.
    static const std::set<std::string> kCosmetic{
        "flags.aa",   "flags.rd", "flags.ra", "flags.cd",      "authority",
        "additional", "ede.text", "edns",     "edns.udp_size", "authority.ttl"};
    return kCosmetic.count(field) != 0U;
}

std::optional<Difference> essential_difference(const Observation& a, const Observation& b,
                                               const CompareOptions& opts) {
    for (auto& d : differences(a, b, opts)) {
        if (opts.strict || !is_cosmetic(d.field)) {
            return d;
        }
    }
    return std::nullopt;
}

std::vector<std::string> notes(const Observation& a, const Observation& b,
                               const CompareOptions& opts) {
    std::vector<std::string> out;
    if (!a.answered || !b.answered) {
        return out;
    }
    if (!opts.ttl_strict) {
        if (auto g = ttl_gap(a.answer, b.answer, opts.ttl_tolerance)) {
            const auto lo = std::min(g->first->ttl, g->second->ttl);
            const auto hi = std::max(g->first->ttl, g->second->ttl);
            out.push_back(g->first->name + " " + wire::type_name(g->first->type) + " TTL " +
                          std::to_string(lo) + " (" + (g->first->ttl == lo ? a.target : b.target) +
                          ") vs " + std::to_string(hi) + " (" +
                          (g->first->ttl == hi ? a.target : b.target) +
                          "): cache-aged, not a difference (--ttl-strict to report)");
        }
    }
    if (a.has_question && b.has_question && a.qname == b.qname && a.qname_raw != b.qname_raw) {
        out.push_back("question case differs: " + a.qname_raw + " (" + a.target + ") vs " +
                      b.qname_raw + " (" + b.target + ")");
    }
    if (!a.nsid.empty() && !b.nsid.empty() && a.nsid != b.nsid) {
        out.push_back("NSID differs: " + a.target + " vs " + b.target);
    }
    return out;
}

std::vector<std::string> sinkhole_labels(const Observation& o, std::uint16_t qtype,
                                         const std::vector<Observation>& others) {
    std::vector<std::string> labels;
    if (!o.answered) {
        return labels;
    }
    const bool address_query = qtype == wire::rrtype::A || qtype == wire::rrtype::AAAA;
    std::vector<std::string> addresses;
    for (const auto& s : o.answer) {
        if (s.type == wire::rrtype::A || s.type == wire::rrtype::AAAA) {
            addresses.insert(addresses.end(), s.rdata.begin(), s.rdata.end());
        }
    }
    auto all_in = [&](std::initializer_list<const char*> set) {
        return !addresses.empty() &&
               std::all_of(addresses.begin(), addresses.end(), [&](const std::string& a) {
                   return std::find(set.begin(), set.end(), a) != set.end();
               });
    };
    auto has_ede = [&](std::uint16_t code) {
        return std::any_of(o.ede.begin(), o.ede.end(),
                           [&](const Ede& e) { return e.code == code; });
    };
    if (o.flags.tc.value_or(false)) {
        // A cut answer is not a block: the client retries over TCP (RFC 7766 §5).
        labels.emplace_back("truncated");
    }
    if (all_in({"0.0.0.0", "::"})) {
        labels.emplace_back("sinkhole");
    }
    // Gateway's documented block page addresses (cloudflare-docs block-page-dns-records).
    if (all_in({"162.159.36.12", "162.159.46.12"})) {
        labels.emplace_back("blockpage");
    }
    if (o.rcode == wire::rcode::Refused) {
        // RFC 8914 §4.21: EDE 20 "Not Authoritative" is an authoritative server declining a
        // name outside its zones (a recursive question to an authoritative), not a policy.
        if (has_ede(20)) {
            labels.emplace_back("not-authoritative");
        } else {
            labels.emplace_back(address_query ? "refused" : "refused-non-address");
        }
    }
    for (const auto& e : o.ede) {
        // RFC 8914 §4.16-4.18: 15 Blocked, 16 Censored, 17 Filtered.
        const char* name = e.code == 15   ? "ede-blocked"
                           : e.code == 16 ? "ede-censored"
                           : e.code == 17 ? "ede-filtered"
                                          : nullptr;
        if (name != nullptr && std::find(labels.begin(), labels.end(), name) == labels.end()) {
            labels.emplace_back(name);
        }
    }
    if (o.rcode == wire::rcode::NxDomain &&
        std::any_of(others.begin(), others.end(),
                    [](const Observation& x) { return has_data_for(x); })) {
        labels.emplace_back("nxdomain");
    }
    return labels;
}

bool is_block_label(const std::string& label) {
    return label != "truncated" && label != "not-authoritative";
}

bool is_block(const std::vector<std::string>& labels) {
    return std::any_of(labels.begin(), labels.end(), is_block_label);
}

namespace {

std::string join(const std::vector<std::string>& v, const char* sep = ", ") {
    std::string out;
    for (const auto& x : v) {
        out += (out.empty() ? "" : sep) + x;
    }
    return out;
}

// Greedy grouping: each observation joins the first class whose representative it does
// not differ from (in `essential_difference`'s sense).
std::vector<AgreementClass> group(const std::vector<Observation>& obs, const CompareOptions& opts) {
    std::vector<AgreementClass> classes;
    for (std::size_t i = 0; i < obs.size(); ++i) {
        auto cls = std::find_if(classes.begin(), classes.end(), [&](const AgreementClass& c) {
            return !essential_difference(obs[c.members.front()], obs[i], opts);
        });
        if (cls == classes.end()) {
            classes.push_back(AgreementClass{{i}, {}});
        } else {
            cls->members.push_back(i);
        }
    }
    return classes;
}

// What one class's representative got, for the verdict sentence.
std::string outcome_of(const Observation& rep) {
    if (rep.error) {
        return "no answer";
    }
    if (!rep.answered) {
        return "no DNS answer";
    }
    if (rep.flags.tc.value_or(false)) {
        return "truncated (TC)";
    }
    if (has_data_for(rep)) {
        return "answered";
    }
    return rep.rcode == wire::rcode::NoError ? "no data (NOERROR)" : wire::rcode_name(rep.rcode);
}

void sort_largest_first(std::vector<AgreementClass>& classes) {
    std::stable_sort(classes.begin(), classes.end(),
                     [](const AgreementClass& a, const AgreementClass& b) {
                         return a.members.size() > b.members.size();
                     });
}

} // namespace

Comparison compare_all(const std::vector<Observation>& obs, std::uint16_t qtype,
                       const CompareOptions& opts) {
    Comparison c;
    c.classes = group(obs, opts);
    // The largest class is the reference the others are described against (docs/probe.md).
    sort_largest_first(c.classes);
    bool cosmetic = false;
    for (const auto& cls : c.classes) {
        const auto& rep = obs[cls.members.front()];
        for (std::size_t m = 1; m < cls.members.size(); ++m) {
            const auto& other = obs[cls.members[m]];
            for (const auto& d : differences(rep, other, opts)) {
                cosmetic = true; // what is left inside a class is cosmetic by construction
                c.notes.push_back(d.field + " differs: " + d.a + " (" + rep.target + ") vs " + d.b +
                                  " (" + other.target + ")");
            }
            for (auto& n : notes(rep, other, opts)) {
                cosmetic = cosmetic || n.find("cache-aged") != std::string::npos;
                c.notes.push_back(std::move(n));
            }
        }
    }
    std::vector<std::string> blocked, others;
    std::map<std::string, std::vector<std::string>> by_outcome; // outcome -> target names
    std::vector<std::string> outcome_order;
    for (auto& cls : c.classes) {
        const auto& rep = obs[cls.members.front()];
        cls.labels = sinkhole_labels(rep, qtype, obs);
        std::vector<std::string> names;
        for (auto m : cls.members) {
            names.push_back(obs[m].target);
        }
        if (is_block(cls.labels)) {
            std::vector<std::string> block_labels;
            std::copy_if(cls.labels.begin(), cls.labels.end(), std::back_inserter(block_labels),
                         is_block_label);
            blocked.push_back("blocked (" + join(block_labels) + ") by " + join(names));
            continue;
        }
        const auto what = outcome_of(rep);
        if (by_outcome.count(what) == 0U) {
            outcome_order.push_back(what);
        }
        auto& list = by_outcome[what];
        list.insert(list.end(), names.begin(), names.end());
    }
    for (std::size_t i = 1; i < c.classes.size(); ++i) {
        auto d = essential_difference(obs[c.classes.front().members.front()],
                                      obs[c.classes[i].members.front()], opts);
        c.differences.push_back(d.value_or(Difference{"(none)", "", ""}));
    }
    const bool all_failed =
        !obs.empty() && std::all_of(obs.begin(), obs.end(),
                                    [](const Observation& o) { return o.error.has_value(); });
    c.level = all_failed             ? "all-failed"
              : c.classes.size() > 1 ? "differ"
              : cosmetic             ? "equivalent"
                                     : "identical";
    c.verdict = all_failed ? "all-failed" : c.classes.size() <= 1 ? "agree" : "differ";
    // Who blocked and who got what, when there is something to tell apart.
    if (!blocked.empty() || c.classes.size() > 1) {
        std::vector<std::string> parts = blocked;
        for (const auto& what : outcome_order) {
            const auto& names = by_outcome[what];
            parts.push_back(what == "answered" ? "answered by " + join(names)
                                               : what + " from " + join(names));
        }
        c.verdict_detail = join(parts, "; ");
    }
    std::sort(c.notes.begin(), c.notes.end());
    c.notes.erase(std::unique(c.notes.begin(), c.notes.end()), c.notes.end());
    return c;
}

} // namespace probes::compare
