// SPDX-License-Identifier: MIT
// Why an expression is false: for `explain` only (allocates freely; never on the query path).
#include <algorithm>
#include <string>
#include <vector>

#include "resolver/policy/expr.hpp"

namespace resolver::policy {
namespace {

constexpr std::size_t kShown = 4; // values of a set or a fact shown before "…"

std::string quoted(std::string_view s) {
    return "\"" + std::string(s) + "\"";
}

std::string field_text(const Comparison& c) {
    std::string s(c.field->name);
    switch (c.index) {
    case Comparison::Index::Star:
        return s + "[*]";
    case Comparison::Index::Pos:
        return s + "[" + std::to_string(c.pos) + "]";
    case Comparison::Index::Key:
        return s + "[" + quoted(c.key) + "]";
    case Comparison::Index::None:
        break;
    }
    return s;
}

template <typename Range, typename Fn>
std::string joined(const Range& r, std::size_t size, Fn&& text, const char* open,
                   const char* close) {
    std::string out = open;
    std::size_t i = 0;
    for (const auto& v : r) {
        if (i == kShown) {
            out += " …";
            break;
        }
        out += (i++ == 0 ? "" : " ") + text(v);
    }
    out += close;
    return size == 0 ? std::string(open) + close : out;
}

std::string rhs_text(const Comparison& c) {
    if (c.list != nullptr) {
        return "$" + c.list->id + (c.list->name.empty() ? "" : " (" + quoted(c.list->name) + ")");
    }
    switch (c.field->type) {
    case ValueType::Int:
        if (c.op == Op::In) {
            return joined(
                c.int_set, c.int_set.size(),
                [](const IntRange& r) {
                    return r.lo == r.hi ? std::to_string(r.lo)
                                        : std::to_string(r.lo) + ".." + std::to_string(r.hi);
                },
                "{", "}");
        }
        return std::to_string(c.int_value);
    case ValueType::Ip:
        if (c.op == Op::In) {
            return c.ip_set.empty() ? "{}" : "{…}";
        }
        return c.ip_value.to_string();
    case ValueType::String:
        if (c.op == Op::In) {
            return joined(c.str_set, c.str_set.size(), quoted, "{", "}");
        }
        return quoted(c.str_value);
    case ValueType::Bool:
        break;
    }
    return {};
}

std::string comparison_text(const Comparison& c) {
    if (c.op == Op::IsTrue) {
        return field_text(c);
    }
    const std::string_view op = c.op == Op::InList ? "in" : op_name(c.op);
    return field_text(c) + " " + std::string(op) + " " + rhs_text(c);
}

/// The fact a comparison saw: `dns.fqdn is "www.example.com"`, `... is absent (...)`.
std::string fact_text(const Comparison& c, const FieldValues& values) {
    const FieldInfo& f = *c.field;
    const FieldView& v = values.views[static_cast<std::size_t>(f.id)];
    const std::string name(f.name);
    if (f.map) {
        if (values.saml == nullptr) {
            return name + " is absent (no identity)";
        }
        auto it = values.saml->find(c.key);
        if (it == values.saml->end()) {
            return name + "[" + quoted(c.key) + "] is absent";
        }
        return name + "[" + quoted(c.key) + "] is " +
               joined(it->second, it->second.size(), quoted, "[", "]");
    }
    if (!v.present) {
        return name + " has no value for this query (it comes from " + std::string(f.producer) +
               ")";
    }
    switch (f.type) {
    case ValueType::Bool:
        return name + " is " + (v.boolean ? "true" : "false");
    case ValueType::Int:
        return name + " is " +
               joined(
                   v.ints, v.ints.size(), [](std::int64_t i) { return std::to_string(i); }, "[",
                   "]");
    case ValueType::Ip:
        if (!f.array && v.ips.size() == 1) {
            return name + " is " + v.ips[0].to_string();
        }
        return name + " is " +
               joined(
                   v.ips, v.ips.size(), [](const net::IpAddr& a) { return a.to_string(); }, "[",
                   "]");
    case ValueType::String:
        if (!f.array && v.strs.size() == 1) {
            return name + " is " + quoted(v.strs[0]);
        }
        return name + " is " + joined(v.strs, v.strs.size(), quoted, "[", "]");
    }
    return name;
}

/// A short rendering of a sub-expression, for "not(...)" and alternatives.
std::string node_text(const Node& n) {
    switch (n.kind) {
    case Node::Kind::Compare:
        return comparison_text(*n.cmp);
    case Node::Kind::Not:
        return "not(" + node_text(*n.kids[0]) + ")";
    case Node::Kind::Any:
        return "any(" + node_text(*n.kids[0]) + ")";
    case Node::Kind::All:
        return "all(" + node_text(*n.kids[0]) + ")";
    case Node::Kind::And:
    case Node::Kind::Or:
    case Node::Kind::Xor: {
        const char* op = n.kind == Node::Kind::And  ? " and "
                         : n.kind == Node::Kind::Or ? " or "
                                                    : " xor ";
        std::string s = "(";
        for (std::size_t i = 0; i < n.kids.size(); ++i) {
            s += (i == 0 ? "" : op) + node_text(*n.kids[i]);
        }
        return s + ")";
    }
    }
    return {};
}

bool holds(const Node& n, const FieldValues& values) {
    EvalNotes notes;
    return eval_subtree(n, values, notes);
}

/// Facts of every comparison under `n`, for quantifiers.
void facts_under(const Node& n, const FieldValues& values, std::vector<std::string>& out) {
    if (n.kind == Node::Kind::Compare) {
        auto f = fact_text(*n.cmp, values);
        if (std::find(out.begin(), out.end(), f) == out.end()) {
            out.push_back(std::move(f));
        }
        return;
    }
    for (const auto& k : n.kids) {
        facts_under(*k, values, out);
    }
}

std::string why(const Node& n, const FieldValues& values) {
    switch (n.kind) {
    case Node::Kind::Compare:
        return comparison_text(*n.cmp) + ": " + fact_text(*n.cmp, values);
    case Node::Kind::And:
        for (const auto& k : n.kids) {
            if (!holds(*k, values)) {
                return why(*k, values);
            }
        }
        break;
    case Node::Kind::Or: {
        std::string s = "no alternative matched: ";
        for (std::size_t i = 0; i < n.kids.size(); ++i) {
            s += (i == 0 ? "" : "; ") + why(*n.kids[i], values);
        }
        return s;
    }
    case Node::Kind::Not:
        return node_text(n) + ": the inner condition matched";
    case Node::Kind::Xor:
        return node_text(n) + ": an even number of its parts matched";
    case Node::Kind::Any:
    case Node::Kind::All: {
        std::vector<std::string> facts;
        facts_under(*n.kids[0], values, facts);
        std::string s = node_text(n) + ": ";
        for (std::size_t i = 0; i < facts.size(); ++i) {
            s += (i == 0 ? "" : ", ") + facts[i];
        }
        return s;
    }
    }
    return node_text(n);
}

} // namespace

std::string Expr::why_false(const FieldValues& values) const {
    if (!root_) {
        return "empty expression (always true)";
    }
    return why(*root_, values);
}

} // namespace resolver::policy
