// SPDX-License-Identifier: MIT
#include "resolver/util/hex.hpp"
#include "resolver/policy/explain.hpp"

#include <nlohmann/json.hpp>

#include <sstream>

namespace resolver::policy {
namespace {

std::string rdata_text(const wire::ResourceRecord& rr) {
    switch (rr.type) {
    case wire::rrtype::A:
    case wire::rrtype::AAAA:
        return wire::address_text(rr);
    case wire::rrtype::CNAME:
    case wire::rrtype::NS:
    case wire::rrtype::PTR:
    case wire::rrtype::DNAME:
        if (auto t = wire::rdata_target(rr)) {
            return t->to_text();
        }
        break;
    case wire::rrtype::MX:
        if (auto t = wire::rdata_target(rr); t && rr.rdata.size() >= 2) {
            auto pref = (static_cast<unsigned char>(rr.rdata[0]) << 8) |
                        static_cast<unsigned char>(rr.rdata[1]);
            return std::to_string(pref) + " " + t->to_text();
        }
        break;
    case wire::rrtype::TXT:
        // TXT holds any bytes: invalid UTF-8 becomes U+FFFD instead of throwing.
        return nlohmann::json(wire::txt_text(rr))
            .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    default:
        break;
    }
    // RFC 3597 §5 generic form.
    std::ostringstream os;
    os << "\\# " << rr.rdata.size();
    if (!rr.rdata.empty()) {
        os << " " << util::hex(rr.rdata);
    }
    return os.str();
}

std::string rr_line(const wire::ResourceRecord& rr) {
    return rr.name.to_text() + "\t" + std::to_string(rr.ttl) + "\t" + wire::class_name(rr.rclass) +
           "\t" + wire::type_name(rr.type) + "\t" + rdata_text(rr);
}

std::string ids(const std::vector<std::int64_t>& v) {
    std::string s = "[";
    for (std::size_t i = 0; i < v.size(); ++i) {
        s += (i == 0 ? "" : ",") + std::to_string(v[i]);
    }
    return s + "]";
}

std::string phase_title(const RuleTrace& t) {
    if (t.resolver) {
        return "resolver policies";
    }
    return t.phase == Phase::Pre ? "pre-resolution DNS policies" : "post-resolution DNS policies";
}

} // namespace

std::string format_message(const wire::Message& m) {
    std::ostringstream os;
    os << ";; ->>HEADER<<- opcode: " << (m.opcode() == 0 ? "QUERY" : std::to_string(m.opcode()))
       << ", status: " << wire::rcode_name(m.rcode()) << ", id: " << m.id << "\n";
    os << ";; flags:";
    const std::pair<std::uint16_t, const char*> kFlags[] = {
        {wire::kFlagQr, "qr"}, {wire::kFlagAa, "aa"}, {wire::kFlagTc, "tc"}, {wire::kFlagRd, "rd"},
        {wire::kFlagRa, "ra"}, {wire::kFlagAd, "ad"}, {wire::kFlagCd, "cd"}};
    for (const auto& [f, n] : kFlags) {
        if (m.flag(f)) {
            os << " " << n;
        }
    }
    os << "; QUERY: " << m.question.size() << ", ANSWER: " << m.answer.size()
       << ", AUTHORITY: " << m.authority.size()
       << ", ADDITIONAL: " << (m.additional.size() + (m.edns ? 1 : 0)) << "\n";
    if (m.edns) {
        os << "\n;; OPT PSEUDOSECTION:\n; EDNS: version: " << int(m.edns->version)
           << ", flags:" << (m.edns->dnssec_ok ? " do" : "") << "; udp: " << m.edns->udp_size
           << "\n";
        for (const auto& e : m.edes()) {
            os << "; EDE: " << e.code << (e.text.empty() ? "" : ": (" + e.text + ")") << "\n";
        }
    }
    os << "\n;; QUESTION SECTION:\n";
    for (const auto& q : m.question) {
        os << ";" << q.qname.to_text() << "\t\t" << wire::class_name(q.qclass) << "\t"
           << wire::type_name(q.qtype) << "\n";
    }
    auto section = [&](const char* title, const std::vector<wire::ResourceRecord>& rrs) {
        if (rrs.empty()) {
            return;
        }
        os << "\n;; " << title << " SECTION:\n";
        for (const auto& rr : rrs) {
            os << rr_line(rr) << "\n";
        }
    };
    section("ANSWER", m.answer);
    section("AUTHORITY", m.authority);
    section("ADDITIONAL", m.additional);
    return os.str();
}

std::string render_explain_text(const ExplainInput& in) {
    std::ostringstream os;
    const Evaluation& ev = *in.ev;
    if (in.query != nullptr) {
        os << "query: " << in.query->qname << " " << wire::type_name(in.query->qtype);
        if (in.query->src_ip) {
            os << " from " << in.query->src_ip->to_string();
        }
        os << " at " << in.now << "\n";
    }
    os << "location: ";
    if (ev.location != nullptr) {
        os << ev.location->name << " (" << ev.location->id << ")";
    } else {
        os << "(none)";
    }
    if (in.location != nullptr) {
        os << " — " << in.location->reason.view();
    }
    os << "\n";
    os << "categories: query " << ids(ev.initial_categories) << ", cname "
       << ids(ev.cname_categories) << ", resolved-ip " << ids(ev.resolved_ip_categories) << "\n";
    // The trace is in precedence order with pre- and post-resolution rules interleaved; print
    // it grouped in the order the phases run (reference §1.6: pre, resolver, post), each
    // heading once, precedence order kept inside a group.
    auto group = [](const RuleTrace& t) {
        return t.resolver ? 1 : (t.phase == Phase::Pre ? 0 : 2);
    };
    for (int g = 0; g < 3; ++g) {
        bool first = true;
        for (const auto& t : ev.trace) {
            if (group(t) != g) {
                continue;
            }
            if (first) {
                os << "\n== " << phase_title(t) << " ==\n";
                first = false;
            }
            os << "  [" << verdict_name(t.verdict) << "] ";
            if (t.rule != nullptr) {
                os << "#" << t.rule->precedence << " " << action_name(t.rule->action) << " \""
                   << t.rule->name << "\" (" << t.rule->id << ")";
            }
            os << ": " << t.reason << "\n";
        }
    }
    os << "\nroute: " << ev.route.key();
    if (ev.route.rule != nullptr) {
        os << " (resolver policy " << ev.route.rule->id << ")";
    }
    os << "\ndecision: " << decision_name(ev.decision) << " (" << static_cast<int>(ev.decision)
       << ")";
    if (ev.rule != nullptr) {
        os << " by " << action_name(ev.rule->action) << " rule \"" << ev.rule->name << "\" ("
           << ev.rule->id << ") in the " << phase_name(ev.decided_in) << " phase";
    }
    os << "\nmatched categories: " << ids(ev.matched_categories) << "\n";
    if (!in.note.empty()) {
        os << "query note: " << in.note << "\n";
    }
    if (in.warnings != nullptr && !in.warnings->empty()) {
        os << "\n== loader warnings (rules skipped or settings ignored) ==\n";
        for (const auto& w : *in.warnings) {
            os << "  " << w << "\n";
        }
    }
    if (in.upstream != nullptr) {
        os << "\n;; upstream answer (seen by post-resolution rules)\n"
           << format_message(*in.upstream);
    }
    if (!in.upstream_error.empty()) {
        os << "\nupstream error: " << in.upstream_error << "\n";
    }
    if (in.answer != nullptr) {
        os << "\n;; answer (as sent, " << in.response_hex.size() / 2 << " bytes)\n"
           << format_message(*in.answer);
    } else if (!in.pending.empty()) {
        os << "\n;; answer: not known yet: " << in.pending << "\n";
    } else {
        os << "\n;; answer: none (the resolver sends nothing)\n";
    }
    return os.str();
}

std::string render_explain_json(const ExplainInput& in) {
    using nlohmann::json;
    const Evaluation& ev = *in.ev;
    json j;
    j["schema"] = "dnslab.explain.v1";
    j["time"] = in.now;
    if (in.query != nullptr) {
        j["query"] = {{"name", std::string(in.query->qname)},
                      {"type", wire::type_name(in.query->qtype)},
                      {"src", in.query->src_ip ? in.query->src_ip->to_string() : ""}};
    }
    j["location"] = ev.location != nullptr
                        ? json{{"id", ev.location->id}, {"name", ev.location->name}}
                        : json(nullptr);
    j["location_reason"] =
        in.location != nullptr ? std::string(in.location->reason.view()) : std::string();
    json trace = json::array();
    for (const auto& t : ev.trace) {
        json r{{"phase", t.resolver ? "resolver" : (t.phase == Phase::Pre ? "pre" : "post")},
               {"verdict", verdict_name(t.verdict)},
               {"reason", t.reason}};
        if (t.rule != nullptr) {
            r["id"] = t.rule->id;
            r["name"] = t.rule->name;
            r["precedence"] = t.rule->precedence;
            r["action"] = action_name(t.rule->action);
        }
        trace.push_back(std::move(r));
    }
    j["trace"] = std::move(trace);
    j["route"] = ev.route.key();
    j["resolver_policy_id"] = ev.route.rule != nullptr ? ev.route.rule->id : "";
    j["decision"] = {{"ResolverDecision", decision_name(ev.decision)},
                     {"code", static_cast<int>(ev.decision)},
                     {"action", ev.action ? std::string(action_name(*ev.action)) : ""},
                     {"PolicyID", ev.rule != nullptr ? ev.rule->id : ""},
                     {"PolicyName", ev.rule != nullptr ? ev.rule->name : ""},
                     {"phase", std::string(phase_name(ev.decided_in))}};
    j["categories"] = {{"InitialCategoryIDs", ev.initial_categories},
                       {"CNAMECategoryIDs", ev.cname_categories},
                       {"ResolvedIPCategoryIDs", ev.resolved_ip_categories},
                       {"QueryCategoryIDs", ev.query_categories},
                       {"MatchedCategoryIDs", ev.matched_categories},
                       {"RequestContextCategoryIDs", ev.request_context_categories}};
    if (in.behaviour != nullptr) {
        j["behaviour"] = json::parse(in.behaviour->to_json());
    }
    if (in.answer != nullptr) {
        j["answer"] = format_message(*in.answer);
        j["rcode"] = wire::rcode_name(in.answer->rcode());
        j["response_wire"] = in.response_hex;
    }
    if (!in.pending.empty()) {
        j["pending"] = in.pending;
    }
    if (!in.upstream_error.empty()) {
        j["upstream_error"] = in.upstream_error;
    }
    if (!in.note.empty()) {
        j["note"] = in.note;
    }
    j["warnings"] = in.warnings != nullptr ? json(*in.warnings) : json::array();
    j["skipped_rules"] = json::array();
    if (in.skipped != nullptr) {
        for (const auto& s : *in.skipped) {
            j["skipped_rules"].push_back(json{{"file", s.file},
                                              {"id", s.id},
                                              {"name", s.name},
                                              {"field", s.field},
                                              {"expression", s.expression},
                                              {"column", s.column},
                                              {"reason", s.reason}});
        }
    }
    j["warning_details"] = in.warnings != nullptr
                               ? warning_details(*in.warnings, in.skipped, in.rule_warnings)
                               : json::array();
    if (!in.log_record.empty()) {
        j["log_record"] = json::parse(in.log_record);
    }
    // EDE EXTRA-TEXT in the answer is the upstream's bytes, not necessarily UTF-8.
    return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

nlohmann::json warning_details(const std::vector<std::string>& warnings,
                               const std::vector<SkippedRule>* skipped,
                               const std::vector<RuleWarning>* rule_warnings) {
    using nlohmann::json;
    json out = json::array();
    for (const auto& line : warnings) {
        json w{{"warning", line},  {"message", line}, {"skipped", false}, {"other_filter", false},
               {"file", ""},       {"rule_id", ""},   {"rule_name", ""},  {"field", ""},
               {"expression", ""}, {"column", 0}};
        auto fill = [&](const auto& r, const std::string& message) {
            w["message"] = message;
            w["file"] = r.file;
            w["rule_id"] = r.id;
            w["rule_name"] = r.name;
            w["field"] = r.field;
            w["expression"] = r.expression;
            w["column"] = r.column;
        };
        // The structured records keep their line, so each line finds its own.
        bool found = false;
        if (skipped != nullptr) {
            for (const auto& s : *skipped) {
                if (s.warning == line) {
                    fill(s, s.reason);
                    w["skipped"] = true;
                    w["other_filter"] = s.other_filter();
                    found = true;
                    break;
                }
            }
        }
        if (!found && rule_warnings != nullptr) {
            for (const auto& r : *rule_warnings) {
                if (r.warning == line) {
                    fill(r, r.message);
                    break;
                }
            }
        }
        out.push_back(std::move(w));
    }
    return out;
}

} // namespace resolver::policy
