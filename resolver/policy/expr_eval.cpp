// SPDX-License-Identifier: MIT
// Evaluation of compiled expressions. Pure: reads FieldValues, writes only EvalNotes.
#include <re2/re2.h>

#include <algorithm>
#include <string>

#include "resolver/policy/expr.hpp"

namespace resolver::policy {

Expr::Expr() = default;
Expr::~Expr() = default;
Expr::Expr(Expr&&) noexcept = default;
Expr& Expr::operator=(Expr&&) noexcept = default;

bool Expr::uses_category() const noexcept {
    return uses(FieldId::DnsContentCategory) || uses(FieldId::DnsSecurityCategory) ||
           uses(FieldId::DnsCategoriesInRequestContextMatches);
}

bool PolicyList::contains_string(std::string_view v) const {
    if (type == ListType::Domain) {
        if (v.empty() || v.back() == '.' ||
            std::any_of(v.begin(), v.end(), [](char c) { return c >= 'A' && c <= 'Z'; })) {
            return domains.contains(normalize_domain(v));
        }
        return domains.contains(v);
    }
    return other.find(std::string(v)) != other.end();
}

namespace {

char fold(char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

/// Glob match with `*` (any run) and `\*`/`\\` escapes, iterative with one backtrack point.
bool glob_match(std::string_view pat, std::string_view s, bool icase) {
    std::size_t p = 0;
    std::size_t i = 0;
    std::size_t star_p = std::string_view::npos;
    std::size_t star_i = 0;
    auto eq = [icase](char a, char b) { return icase ? fold(a) == fold(b) : a == b; };
    while (i < s.size()) {
        if (p < pat.size() && pat[p] == '*') {
            star_p = ++p;
            star_i = i;
            continue;
        }
        if (p < pat.size()) {
            char pc = pat[p];
            std::size_t adv = 1;
            if (pc == '\\' && p + 1 < pat.size()) {
                pc = pat[p + 1];
                adv = 2;
            }
            if (eq(pc, s[i])) {
                p += adv;
                ++i;
                continue;
            }
        }
        if (star_p == std::string_view::npos) {
            return false;
        }
        p = star_p;
        i = ++star_i;
    }
    while (p < pat.size() && pat[p] == '*') {
        ++p;
    }
    return p == pat.size();
}

template <typename T>
bool ordered(Op op, const T& a, const T& b) {
    switch (op) {
    case Op::Eq:
        return a == b;
    case Op::Ne:
        return a != b;
    case Op::Lt:
        return a < b;
    case Op::Le:
        return a <= b;
    case Op::Gt:
        return a > b;
    case Op::Ge:
        return a >= b;
    default:
        return false;
    }
}

struct Ctx {
    const FieldValues& values;
    EvalNotes& notes;
    std::ptrdiff_t elem = -1; // current element inside any()/all()
};

bool test_int(const Comparison& c, std::int64_t v) {
    switch (c.op) {
    case Op::In:
        return std::any_of(c.int_set.begin(), c.int_set.end(),
                           [v](const IntRange& r) { return r.lo <= v && v <= r.hi; });
    case Op::InList:
        return c.list->contains_string(std::to_string(v));
    case Op::BitAnd:
        return (v & c.int_value) != 0;
    default:
        return ordered(c.op, v, c.int_value);
    }
}

bool test_ip(const Comparison& c, const net::IpAddr& v) {
    switch (c.op) {
    case Op::In:
        return c.ip_set.contains(v);
    case Op::InList:
        return c.list->contains_ip(v);
    default:
        return ordered(c.op, v, c.ip_value);
    }
}

bool test_str(const Comparison& c, std::string_view v, bool anchored) {
    switch (c.op) {
    case Op::In:
        return c.str_set.find(v) != c.str_set.end();
    case Op::InList:
        return c.list->contains_string(v);
    case Op::Matches:
        if ((c.regex_lower && v < c.regex_min) || (c.regex_upper && v > c.regex_max)) {
            return false; // outside RE2's bounds for every possible match
        }
        return anchored ? RE2::FullMatch(re2::StringPiece(v.data(), v.size()), *c.regex)
                        : RE2::PartialMatch(re2::StringPiece(v.data(), v.size()), *c.regex);
    case Op::Contains:
        return v.find(c.str_value) != std::string_view::npos;
    case Op::Wildcard:
        return glob_match(c.str_value, v, true);
    case Op::StrictWildcard:
        return glob_match(c.str_value, v, false);
    default:
        return ordered(c.op, v, std::string_view(c.str_value));
    }
}

bool eval_compare(const Comparison& c, Ctx& ctx) {
    const FieldInfo& f = *c.field;
    const FieldView& v = ctx.values.views[static_cast<std::size_t>(f.id)];
    if (f.type == ValueType::Bool) {
        bool r = v.present && v.boolean;
        if (r && f.category) {
            ctx.notes.category_hit = true;
            ctx.notes.request_context_hit = true;
        }
        return r;
    }
    // Strings of a map field come from the saml map; everything else from the view.
    std::span<const std::string_view> strs = v.strs;
    std::vector<std::string_view> map_vals;
    if (f.map) {
        if (ctx.values.saml == nullptr) {
            return false;
        }
        auto it = ctx.values.saml->find(c.key);
        if (it == ctx.values.saml->end()) {
            return false;
        }
        map_vals.assign(it->second.begin(), it->second.end());
        strs = map_vals;
    } else if (!v.present) {
        return false;
    }
    const std::size_t n = f.type == ValueType::Int  ? v.ints.size()
                          : f.type == ValueType::Ip ? v.ips.size()
                                                    : strs.size();
    auto test = [&](std::size_t k) {
        bool r = false;
        switch (f.type) {
        case ValueType::Int:
            r = test_int(c, v.ints[k]);
            if (r && f.category) {
                ctx.notes.category_hit = true;
                ctx.notes.matched_categories.push_back(v.ints[k]);
            }
            if (r && f.id == FieldId::DnsIndicatorFeed) {
                ctx.notes.matched_feeds.push_back(v.ints[k]); // MatchedIndicatorFeedIDs
            }
            break;
        case ValueType::Ip:
            r = test_ip(c, v.ips[k]);
            break;
        case ValueType::String:
            r = test_str(c, strs[k], ctx.values.regex_anchored);
            break;
        case ValueType::Bool:
            break;
        }
        if (r && f.response) {
            ctx.notes.response_hit = true;
        }
        return r;
    };
    switch (c.index) {
    case Comparison::Index::Star:
        return ctx.elem >= 0 && static_cast<std::size_t>(ctx.elem) < n &&
               test(static_cast<std::size_t>(ctx.elem));
    case Comparison::Index::Pos:
        return static_cast<std::size_t>(c.pos) < n && test(static_cast<std::size_t>(c.pos));
    case Comparison::Index::None:
    case Comparison::Index::Key:
        break;
    }
    // A scalar, or (lab leniency, documented) an array compared without [*]: true when any
    // element matches, as the reference's `dns.dst.geo.country == "RU"` example needs.
    bool any = false;
    for (std::size_t k = 0; k < n; ++k) {
        if (test(k)) {
            any = true;
            if (!f.category && f.id != FieldId::DnsIndicatorFeed) {
                break; // categories, feeds: keep going to record every matched ID
            }
        }
    }
    return any;
}

/// Largest array mapped with [*] under `n`, and whether categories are involved.
void star_extent(const Node& n, const FieldValues& values, std::size_t& len, bool& category,
                 bool& star) {
    if (n.kind == Node::Kind::Compare) {
        const Comparison& c = *n.cmp;
        if (c.index == Comparison::Index::Star) {
            star = true;
            const FieldView& v = values.views[static_cast<std::size_t>(c.field->id)];
            std::size_t k = c.field->type == ValueType::Int  ? v.ints.size()
                            : c.field->type == ValueType::Ip ? v.ips.size()
                                                             : v.strs.size();
            len = std::max(len, v.present ? k : 0);
            category = category || c.field->category || c.field->id == FieldId::DnsIndicatorFeed;
        }
        return;
    }
    for (const auto& k : n.kids) {
        star_extent(*k, values, len, category, star);
    }
}

bool eval_node(const Node& n, Ctx& ctx) {
    switch (n.kind) {
    case Node::Kind::Compare:
        return eval_compare(*n.cmp, ctx);
    case Node::Kind::Not:
        return !eval_node(*n.kids[0], ctx);
    case Node::Kind::And:
        for (const auto& k : n.kids) {
            if (!eval_node(*k, ctx)) {
                return false;
            }
        }
        return true;
    case Node::Kind::Or:
        for (const auto& k : n.kids) {
            if (eval_node(*k, ctx)) {
                return true;
            }
        }
        return false;
    case Node::Kind::Xor: {
        bool r = false;
        for (const auto& k : n.kids) {
            r = r != eval_node(*k, ctx);
        }
        return r;
    }
    case Node::Kind::Any:
    case Node::Kind::All: {
        std::size_t len = 0;
        bool category = false;
        bool star = false;
        star_extent(*n.kids[0], ctx.values, len, category, star);
        if (!star) {
            // any(map["key"] in {...}): the comparison itself ranges over the map's values.
            return eval_node(*n.kids[0], ctx);
        }
        const bool is_any = n.kind == Node::Kind::Any;
        bool result = !is_any; // any() of nothing is false, all() of nothing is true
        for (std::size_t i = 0; i < len; ++i) {
            ctx.elem = static_cast<std::ptrdiff_t>(i);
            bool r = eval_node(*n.kids[0], ctx);
            if (is_any && r) {
                result = true;
                if (!category) {
                    break;
                }
            } else if (!is_any && !r) {
                result = false;
                break;
            }
        }
        ctx.elem = -1;
        return result;
    }
    }
    return false;
}

} // namespace

bool ip_matches(const Comparison& c, const net::IpAddr& v) {
    return test_ip(c, v);
}

bool eval_subtree(const Node& n, const FieldValues& values, EvalNotes& notes) {
    Ctx ctx{values, notes};
    return eval_node(n, ctx);
}

bool Expr::eval(const FieldValues& values, EvalNotes& notes) const {
    if (!root_) {
        return true;
    }
    Ctx ctx{values, notes};
    return eval_node(*root_, ctx);
}

} // namespace resolver::policy
