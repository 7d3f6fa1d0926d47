// SPDX-License-Identifier: MIT
// The rule index (policy_set.hpp, RuleIndex): which pre-resolution rules a query's name,
// type, location and categories leave as candidates. A candidate set is always a superset
// of the rules that can match; evaluate_pre runs the candidates' full expressions.
#include <re2/re2.h>
#include <re2/set.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <map>
#include <optional>
#include <span>

#include "resolver/policy/policy_set.hpp"

namespace resolver::policy {

namespace detail {

/// One RE2::Set prefilter: pattern k is necessary for rule `rule_of[k]`.
struct PatternSet {
    std::unique_ptr<RE2::Set> set;
    std::vector<std::uint32_t> rule_of;
    std::vector<std::uint32_t> rules; // every rule in the set, for when the DFA gives up
    /// Rules with a glob or substring pattern: candidates whenever the text has a byte
    /// above 0x7F (see NamePatternSets).
    std::vector<std::uint32_t> glob_rules;
    bool on_domains = false; // run over each dns.domains element, not dns.fqdn
};

/// At most two sets: one run over dns.fqdn, one over each dns.domains element (each call
/// takes the DFA cache's lock, so one set per text rather than one per kind). The options
/// are the parser's (UTF-8, expr_parser.cpp), so a regex's prefilter match is exactly RE2
/// PartialMatch of the rule's own regex, which FullMatch implies as well. Globs and
/// substrings compare bytes: translated to UTF-8 regexes they match an ASCII text exactly as
/// the glob matcher does (case folding may only add matches), and for a text with other
/// bytes their rules are simply candidates.
struct NamePatternSets {
    std::vector<PatternSet> sets;
};

} // namespace detail

namespace {

using detail::NamePatternSets;
using detail::PatternSet;

/// One key of a requirement.
struct Key {
    enum class Kind : std::uint8_t {
        Exact,      // the normalised name is `str`
        Suffix,     // the normalised name is `str` or ends with "." + `str`
        ListExact,  // the normalised name is in `list`
        ListSuffix, // the normalised name or a parent is in `list`
        Pattern,    // pattern `str` of set `set` matches
        Category,   // `num` is one of the name's categories
        Rtype,      // dns.query_rtype is `str`
        Location,   // dns.location is `str`
    } kind = Kind::Exact;
    std::string str;
    std::int64_t num = 0;
    const PolicyList* list = nullptr;
    std::size_t set = 0; // kRegexFqdn .. kGlobDomains
};

constexpr std::size_t kRegexFqdn = 0;
constexpr std::size_t kRegexDomains = 1;
constexpr std::size_t kGlobFqdn = 2;
constexpr std::size_t kGlobDomains = 3; // unused: domain globs become fqdn patterns

/// A necessary condition: one of `keys` holds whenever the node is true.
struct Requirement {
    std::vector<Key> keys;
    /// How broad the broadest key is (names are narrow, a location is broad): `and` keeps
    /// the conjunct with the lowest cost.
    [[nodiscard]] int cost() const {
        int c = 0;
        for (const auto& k : keys) {
            static constexpr int kCost[] = {1, 1, 2, 2, 3, 4, 5, 6};
            c = std::max(c, kCost[static_cast<int>(k.kind)]);
        }
        return c;
    }
};
using Req = std::optional<Requirement>; // nullopt: no requirement (always a candidate)

Req one(Key k) {
    Requirement r;
    r.keys.push_back(std::move(k));
    return r;
}

/// A name key for a literal compared to dns.fqdn (exact) or dns.domains (suffix): if the
/// value equals the literal, their normalised forms are equal.
Req name_key(std::string_view literal, bool suffix) {
    std::string n = normalize_domain(literal);
    if (n.size() > 255) {
        return std::nullopt; // no table key; cannot match a normalised name anyway, but stay sound
    }
    Key k;
    k.kind = suffix ? Key::Kind::Suffix : Key::Kind::Exact;
    k.str = std::move(n);
    return one(std::move(k));
}

/// A glob as glob_match (expr_eval.cpp) reads it: literal bytes and stars.
struct GlobToken {
    bool star = false;
    char c = 0;
};
std::vector<GlobToken> glob_tokens(std::string_view pat) {
    std::vector<GlobToken> out;
    for (std::size_t p = 0; p < pat.size();) {
        if (pat[p] == '*') {
            out.push_back({true, 0});
            ++p;
        } else if (pat[p] == '\\' && p + 1 < pat.size()) {
            out.push_back({false, pat[p + 1]});
            p += 2;
        } else {
            out.push_back({false, pat[p]});
            ++p;
        }
    }
    return out;
}

/// The glob as a whole-value regex (for ASCII texts; see NamePatternSets). For a glob on
/// dns.domains, a regex on dns.fqdn: every element is dns.fqdn itself or what follows one of
/// its dots, so a glob matching an element matches dns.fqdn after an optional "….".
std::string glob_regex(const std::vector<GlobToken>& toks, bool icase, bool on_element) {
    std::string re = on_element ? "\\A(?s:.*\\.)?" : "\\A";
    re += icase ? "(?i:" : "(?:";
    for (const auto& t : toks) {
        re += t.star ? std::string("(?s:.*)") : RE2::QuoteMeta(std::string_view(&t.c, 1));
    }
    return re + ")\\z";
}

/// A regex on the dns.domains elements as a necessary regex on dns.fqdn, when one is easy
/// to prove: every element is a suffix of dns.fqdn that starts at its start or after a dot.
/// - Without `^` and `\A` a match inside an element is a match inside dns.fqdn (`$` and
///   `\z` are the same end; `\b`/`\B` see a dot before the element, a non-word character
///   like the start of the text).
/// - `^X` (no other `^`, no `|` that could split it, no flag group): X matches dns.fqdn at
///   its start or after a dot, i.e. `(?:^|\.)(?:X)`.
/// Anything else runs per element (one RE2::Set call per element instead of one).
std::optional<std::string> domain_regex_on_fqdn(const std::string& re) {
    if (re.find("\\A") != std::string::npos) {
        return std::nullopt;
    }
    const auto carets = std::count(re.begin(), re.end(), '^');
    if (carets == 0) {
        return re;
    }
    if (carets == 1 && re[0] == '^' && re.find('|') == std::string::npos &&
        re.find("(?") == std::string::npos) {
        return "(?:^|\\.)(?:" + re.substr(1) + ")";
    }
    return std::nullopt;
}

Req pattern_key(std::string re, std::size_t set) {
    Key k;
    k.kind = Key::Kind::Pattern;
    k.str = std::move(re);
    k.set = set;
    return one(std::move(k));
}

Req compare_requirement(const Comparison& c) {
    const FieldId f = c.field->id;
    if (f == FieldId::DnsFqdn || f == FieldId::DnsDomains) {
        const bool domains = f == FieldId::DnsDomains;
        switch (c.op) {
        case Op::Eq:
            return name_key(c.str_value, domains);
        case Op::In: {
            Requirement r;
            for (const auto& v : c.str_set) {
                auto k = name_key(v, domains);
                if (!k) {
                    return std::nullopt;
                }
                r.keys.push_back(std::move(k->keys[0]));
            }
            return r;
        }
        case Op::InList: {
            if (c.list == nullptr || c.list->type != ListType::Domain) {
                return std::nullopt; // exact strings of another list type: not name keys
            }
            Key k;
            k.kind = domains ? Key::Kind::ListSuffix : Key::Kind::ListExact;
            k.list = c.list;
            return one(std::move(k));
        }
        case Op::Matches:
            if (c.regex == nullptr) {
                return std::nullopt;
            }
            if (domains) {
                if (auto on_fqdn = domain_regex_on_fqdn(c.regex->pattern())) {
                    return pattern_key(std::move(*on_fqdn), kRegexFqdn);
                }
                return pattern_key(c.regex->pattern(), kRegexDomains);
            }
            return pattern_key(c.regex->pattern(), kRegexFqdn);
        case Op::Contains:
            // A substring of an element (a suffix of dns.fqdn) is a substring of dns.fqdn.
            return pattern_key(RE2::QuoteMeta(c.str_value), kGlobFqdn);
        case Op::Wildcard:
        case Op::StrictWildcard: {
            auto toks = glob_tokens(c.str_value);
            auto last_star =
                std::find_if(toks.rbegin(), toks.rend(), [](const GlobToken& t) { return t.star; });
            if (last_star == toks.rend()) {
                std::string literal;
                for (const auto& t : toks) {
                    literal += t.c;
                }
                return name_key(literal, domains); // no star: equality, case folded or not
            }
            // "*.example.com" (anything after the last star starting with a dot): every match
            // ends with ".example.com", so example.com is the name or a parent at a label
            // boundary. Matching "ab.example.com" case-sensitively implies it case-folded.
            std::string tail;
            for (auto it = last_star.base(); it != toks.end(); ++it) {
                tail += it->c;
            }
            if (tail.size() > 1 && tail[0] == '.') {
                std::string n = normalize_domain(std::string_view(tail).substr(1));
                if (n != "." && n.size() <= 255) {
                    Key k;
                    k.kind = Key::Kind::Suffix;
                    k.str = std::move(n);
                    return one(std::move(k));
                }
            }
            return pattern_key(glob_regex(toks, c.op == Op::Wildcard, domains), kGlobFqdn);
        }
        default:
            return std::nullopt; // !=, <, >...: no finite set of names
        }
    }
    if (f == FieldId::DnsContentCategory || f == FieldId::DnsSecurityCategory) {
        Requirement r;
        if (c.op == Op::Eq) {
            r.keys.push_back(Key{Key::Kind::Category, {}, c.int_value});
            return r;
        }
        if (c.op == Op::In) {
            for (const auto& range : c.int_set) {
                if (range.hi - range.lo > 64) {
                    return std::nullopt;
                }
                for (auto v = range.lo; v <= range.hi; ++v) {
                    r.keys.push_back(Key{Key::Kind::Category, {}, v});
                }
            }
            return r;
        }
        return std::nullopt;
    }
    if (f == FieldId::DnsQueryRtype || f == FieldId::DnsLocation) {
        const auto kind = f == FieldId::DnsQueryRtype ? Key::Kind::Rtype : Key::Kind::Location;
        Requirement r;
        if (c.op == Op::Eq) {
            r.keys.push_back(Key{kind, c.str_value});
            return r;
        }
        if (c.op == Op::In) {
            for (const auto& v : c.str_set) {
                r.keys.push_back(Key{kind, v});
            }
            return r;
        }
    }
    return std::nullopt;
}

Req requirement(const Node& n) {
    switch (n.kind) {
    case Node::Kind::Compare:
        return compare_requirement(*n.cmp);
    case Node::Kind::Any:
        // any(x) is true only when x is true for some element: x's keys cover each element.
        return requirement(*n.kids[0]);
    case Node::Kind::And: {
        // Every conjunct is necessary: keep the narrowest one.
        Req best;
        for (const auto& k : n.kids) {
            Req r = requirement(*k);
            if (r && (!best || r->cost() < best->cost() ||
                      (r->cost() == best->cost() && r->keys.size() < best->keys.size()))) {
                best = std::move(r);
            }
        }
        return best;
    }
    case Node::Kind::Or:
    case Node::Kind::Xor: {
        // An odd number of true branches (xor) includes at least one: the union for both.
        Requirement all;
        for (const auto& k : n.kids) {
            Req r = requirement(*k);
            if (!r) {
                return std::nullopt;
            }
            for (auto& key : r->keys) {
                all.keys.push_back(std::move(key));
            }
        }
        return all;
    }
    case Node::Kind::Not:
        if (n.kids[0]->kind == Node::Kind::Not) {
            return requirement(*n.kids[0]->kids[0]);
        }
        return std::nullopt; // a negation holds for names no key can list
    case Node::Kind::All:
        return std::nullopt; // all() over no element is true
    }
    return std::nullopt;
}

/// A comparison on dns.resolved_ips that must hold (for some element) for `n` to be true.
const Comparison* resolved_ip_need(const Node& n) {
    switch (n.kind) {
    case Node::Kind::Compare: {
        const Comparison& c = *n.cmp;
        const bool set_test = c.op == Op::In || c.op == Op::InList;
        return c.field->id == FieldId::DnsResolvedIps && set_test ? &c : nullptr;
    }
    case Node::Kind::Any:
        return resolved_ip_need(*n.kids[0]);
    case Node::Kind::And:
        for (const auto& k : n.kids) {
            if (const Comparison* c = resolved_ip_need(*k)) {
                return c;
            }
        }
        return nullptr;
    default:
        return nullptr;
    }
}

void put(std::vector<std::uint32_t>& v, std::uint32_t rule) {
    if (v.empty() || v.back() != rule) {
        v.push_back(rule);
    }
}

void set_bit(std::vector<std::uint64_t>& bits, std::uint32_t i) {
    bits[i >> 6] |= std::uint64_t{1} << (i & 63);
}

/// Runs one set over `text`, marking the rules of its matching patterns.
void run_set(const PatternSet& ps, std::string_view text, IndexScratch& s) {
    if (!ps.glob_rules.empty() &&
        std::any_of(text.begin(), text.end(), [](char c) { return (c & 0x80) != 0; })) {
        for (auto r : ps.glob_rules) {
            set_bit(s.bits, r);
        }
    }
    RE2::Set::ErrorInfo err{};
    // Match without an output vector first: RE2 allocates the match set only when asked for
    // one, and most names match no pattern.
    const re2::StringPiece sp(text.data(), text.size());
    if (!ps.set->Match(sp, nullptr, &err)) {
        if (err.kind == RE2::Set::kNoError) {
            return;
        }
    } else if (ps.set->Match(sp, &s.hits, &err)) {
        for (int k : s.hits) {
            set_bit(s.bits, ps.rule_of[static_cast<std::size_t>(k)]);
        }
        return;
    }
    // The DFA ran out of memory (or another failure): every rule of the set stays a candidate.
    for (auto r : ps.rules) {
        set_bit(s.bits, r);
    }
}

/// Addresses as one unsigned 128-bit number (big-endian bytes), for range arithmetic.
__extension__ using U128 = unsigned __int128;

U128 to_u128(const net::IpAddr& a) {
    U128 v = 0;
    for (auto b : a.bytes) {
        v = (v << 8) | b;
    }
    return v;
}

ResolvedIpIndex::Block block_of(U128 v) {
    return {static_cast<std::uint64_t>(v >> 64), static_cast<std::uint64_t>(v)};
}

/// The first `bits` bits of `v` (the rest zero).
U128 masked(U128 v, int bits) {
    if (bits == 0) {
        return 0;
    }
    return v & (~U128{0} << (128 - bits));
}

/// Calls `out(first address, prefix length)` for the CIDR blocks that exactly cover
/// [lo, hi], largest aligned block first (RFC 4632 §3.1 aggregation read backwards).
template <typename Out>
void cidr_blocks(U128 lo, U128 hi, Out&& out) {
    while (true) {
        // The largest block starting at lo that is aligned and does not pass hi: 2^host
        // addresses.
        int host = 0;
        while (host < 128) {
            const int h = host + 1;
            const U128 m = h == 128 ? ~U128{0} : (U128{1} << h) - 1;
            if ((lo & m) != 0 || hi - lo < m) {
                break;
            }
            host = h;
        }
        out(lo, 128 - host);
        const U128 last = lo + (host == 128 ? ~U128{0} : (U128{1} << host) - 1);
        if (last >= hi) {
            return;
        }
        lo = last + 1;
    }
}

/// The ranges of a dns.resolved_ips set comparison; nullopt when it is no set test the
/// index can hold.
std::optional<std::span<const net::IpRange>> need_ranges(const Comparison& c) {
    if (c.op == Op::In) {
        return c.ip_set.ranges();
    }
    if (c.op == Op::InList && c.list != nullptr && c.list->type == ListType::Ip) {
        return c.list->ips.ranges();
    }
    return std::nullopt;
}

/// More CIDR blocks than this for one comparison (a huge IP list of odd ranges): the rule
/// keeps the per-rule test (resolved_need) instead.
constexpr std::size_t kMaxBlocksPerRule = std::size_t{1} << 18;

/// Files the post-phase rules' dns.resolved_ips comparisons in `idx.resolved_ips`; the other
/// rules of `post` / `post_phase` become always-candidates of the post phase.
void build_post_index(const PolicySet& set, RuleIndex& idx) {
    idx.post_always.assign((idx.rule_count + 63) / 64, 0);
    idx.post_phase_always = idx.post_always;
    idx.post_indexed = idx.post_always;
    std::map<std::pair<int, std::pair<std::uint64_t, std::uint64_t>>, std::vector<std::uint32_t>>
        blocks;
    for (const auto i : idx.post) {
        const Rule& r = set.dns_rules[i];
        if (!r.enabled || r.expired) {
            continue; // never visited (the linear walk skips them too)
        }
        const Comparison* need = idx.resolved_need[i];
        const auto ranges =
            need != nullptr ? need_ranges(*need) : std::optional<std::span<const net::IpRange>>{};
        std::size_t count = 0;
        if (ranges) {
            for (const auto& range : *ranges) {
                cidr_blocks(to_u128(range.lo), to_u128(range.hi), [&](U128, int) { ++count; });
            }
        }
        if (!ranges || count > kMaxBlocksPerRule) {
            set_bit(idx.post_always, i);
            if (r.phase != Phase::Pre) {
                set_bit(idx.post_phase_always, i);
            }
            continue;
        }
        set_bit(idx.post_indexed, i);
        for (const auto& range : *ranges) {
            cidr_blocks(to_u128(range.lo), to_u128(range.hi), [&](U128 first, int bits) {
                const auto b = block_of(first);
                put(blocks[{bits, {b.hi, b.lo}}], i);
            });
        }
    }
    ResolvedIpIndex& x = idx.resolved_ips;
    for (const auto& [key, rules] : blocks) {
        if (x.levels.empty() || x.levels.back().bits != key.first) {
            x.levels.push_back(ResolvedIpIndex::Level{key.first, {}});
        }
        ResolvedIpIndex::Slot slot;
        slot.begin = static_cast<std::uint32_t>(x.rule_ids.size());
        x.rule_ids.insert(x.rule_ids.end(), rules.begin(), rules.end());
        slot.end = static_cast<std::uint32_t>(x.rule_ids.size());
        x.levels.back().blocks.emplace(ResolvedIpIndex::Block{key.second.first, key.second.second},
                                       slot);
    }
}

} // namespace

void RuleIndex::candidates(const IndexQuery& q, IndexScratch& s) const {
    s.bits.assign(always.begin(), always.end());
    auto mark = [&s](const std::vector<std::uint32_t>& rules) {
        for (auto r : rules) {
            set_bit(s.bits, r);
        }
    };
    // The name and each parent at a label boundary, the walk dns.domains is built with.
    if (names.size() != 0) {
        std::string_view rest = q.normal;
        bool whole = true;
        std::size_t labels = DomainTable::label_count(rest);
        for (; !rest.empty(); --labels) {
            if (!names.may_hold_labels(labels)) {
                // no key has this many labels: skip the lookup
            } else if (auto v = names.find(rest); v && v->size() == 4) {
                std::uint32_t p = 0;
                std::memcpy(&p, v->data(), 4);
                const Posting& post = postings[p];
                for (auto i = whole ? post.begin : post.exact_end; i < post.end; ++i) {
                    set_bit(s.bits, rule_ids[i]);
                }
            }
            const auto dot = rest.find('.');
            if (dot == std::string_view::npos || dot + 1 >= rest.size()) {
                break;
            }
            rest.remove_prefix(dot + 1);
            whole = false;
        }
    }
    for (const auto& lp : list_probes) {
        // One walk for both forms: the longest suffix present is the name itself when the
        // name is present.
        if (lp.suffix.empty()) {
            if (lp.list->domains.contains(q.normal)) {
                mark(lp.exact);
            }
        } else if (auto hit = lp.list->domains.find_closest(q.normal)) {
            mark(lp.suffix);
            if (hit->name.size() == q.normal.size()) {
                mark(lp.exact);
            }
        }
    }
    if (patterns != nullptr) {
        for (const auto& ps : patterns->sets) {
            if (!ps.on_domains) {
                run_set(ps, q.fqdn, s);
                continue;
            }
            for (auto d : q.domains) {
                run_set(ps, d, s);
            }
        }
    }
    if (!by_rtype.empty()) {
        if (auto it = by_rtype.find(q.rtype); it != by_rtype.end()) {
            mark(it->second);
        }
    }
    if (!by_location.empty()) {
        if (auto it = by_location.find(q.location); it != by_location.end()) {
            mark(it->second);
        }
    }
    if (!by_category.empty()) {
        for (auto c : q.categories) {
            if (auto it = by_category.find(c); it != by_category.end()) {
                mark(it->second);
            }
        }
    }
}

void ResolvedIpIndex::mark(const net::IpAddr& ip, std::vector<std::uint64_t>& bits) const {
    const U128 v = to_u128(ip);
    for (const Level& level : levels) {
        auto it = level.blocks.find(block_of(masked(v, level.bits)));
        if (it == level.blocks.end()) {
            continue;
        }
        for (auto i = it->second.begin; i < it->second.end; ++i) {
            set_bit(bits, rule_ids[i]);
        }
    }
}

std::size_t ResolvedIpIndex::block_count() const noexcept {
    std::size_t n = 0;
    for (const auto& l : levels) {
        n += l.blocks.size();
    }
    return n;
}

bool RuleIndex::post_candidates(std::span<const net::IpAddr> ips, bool recheck,
                                IndexScratch& s) const {
    const auto& base = recheck ? post_always : post_phase_always;
    s.post_bits.assign(base.begin(), base.end());
    if (!resolved_ips.levels.empty()) {
        for (const auto& ip : ips) {
            resolved_ips.mark(ip, s.post_bits);
        }
    }
    return std::any_of(s.post_bits.begin(), s.post_bits.end(),
                       [](std::uint64_t w) { return w != 0; });
}

void build_rule_index(PolicySet& set) {
    RuleIndex idx;
    idx.rule_count = static_cast<std::uint32_t>(set.dns_rules.size());
    idx.always.assign((idx.rule_count + 63) / 64, 0);
    // Name keys gathered first: each name goes into the table once, with all its rules.
    struct NameRules {
        std::vector<std::uint32_t> exact, suffix;
    };
    std::map<std::string, NameRules, std::less<>> by_name;
    std::map<const PolicyList*, RuleIndex::ListProbe> probes;
    struct PatternInput {
        std::vector<std::string> patterns;
        std::vector<std::uint32_t> rule_of;
        std::vector<bool> glob;
    };
    std::array<PatternInput, 2> pattern_input; // [0] dns.fqdn, [1] dns.domains elements

    for (std::uint32_t i = 0; i < set.dns_rules.size(); ++i) {
        const Rule& r = set.dns_rules[i];
        if (r.phase != Phase::Pre || r.uses_category() ||
            (r.settings.ip_indicator_feeds && r.uses(FieldId::DnsIndicatorFeed))) {
            idx.post.push_back(i);
        }
        if (r.phase != Phase::Pre) {
            idx.post_phase.push_back(i);
        }
        const Node* root = r.traffic.root();
        idx.resolved_need.push_back(root != nullptr ? resolved_ip_need(*root) : nullptr);
        if (r.phase != Phase::Pre || !r.enabled || r.expired) {
            continue; // never a pre-resolution candidate (the linear walk skips them too)
        }
        Req req;
        for (const Expr* e : {&r.traffic, &r.identity, &r.device_posture}) {
            if (e->root() == nullptr) {
                continue;
            }
            Req x = requirement(*e->root());
            if (x && (!req || x->cost() < req->cost())) {
                req = std::move(x);
            }
        }
        if (!req) {
            set_bit(idx.always, i);
            continue;
        }
        for (auto& k : req->keys) {
            switch (k.kind) {
            case Key::Kind::Exact:
                put(by_name[k.str].exact, i);
                break;
            case Key::Kind::Suffix:
                put(by_name[k.str].suffix, i);
                break;
            case Key::Kind::ListExact:
            case Key::Kind::ListSuffix: {
                const bool suffix = k.kind == Key::Kind::ListSuffix;
                if (k.list->domains.size() <= RuleIndex::kInlineListNames) {
                    k.list->domains.for_each([&](std::string_view name) {
                        auto& nr = by_name[std::string(name)];
                        put(suffix ? nr.suffix : nr.exact, i);
                    });
                } else {
                    auto& lp = probes[k.list];
                    lp.list = k.list;
                    put(suffix ? lp.suffix : lp.exact, i);
                }
                break;
            }
            case Key::Kind::Pattern: {
                auto& in = pattern_input[k.set == kRegexDomains || k.set == kGlobDomains ? 1 : 0];
                in.patterns.push_back(std::move(k.str));
                in.rule_of.push_back(i);
                in.glob.push_back(k.set == kGlobFqdn || k.set == kGlobDomains);
            } break;
            case Key::Kind::Category:
                put(idx.by_category[k.num], i);
                break;
            case Key::Kind::Rtype:
                put(idx.by_rtype[k.str], i);
                break;
            case Key::Kind::Location:
                put(idx.by_location[k.str], i);
                break;
            }
        }
    }

    idx.names.reserve_more(by_name.size());
    for (auto& [name, nr] : by_name) {
        // A rule filed under both forms of one name needs only the broader (suffix) one.
        const auto& broader = nr.suffix; // a structured binding cannot be captured (clang 14)
        std::erase_if(nr.exact, [&](std::uint32_t r) {
            return std::find(broader.begin(), broader.end(), r) != broader.end();
        });
        RuleIndex::Posting p;
        p.begin = static_cast<std::uint32_t>(idx.rule_ids.size());
        idx.rule_ids.insert(idx.rule_ids.end(), nr.exact.begin(), nr.exact.end());
        p.exact_end = static_cast<std::uint32_t>(idx.rule_ids.size());
        idx.rule_ids.insert(idx.rule_ids.end(), nr.suffix.begin(), nr.suffix.end());
        p.end = static_cast<std::uint32_t>(idx.rule_ids.size());
        const auto n = static_cast<std::uint32_t>(idx.postings.size());
        idx.postings.push_back(p);
        std::array<std::uint8_t, 4> ref{};
        std::memcpy(ref.data(), &n, 4);
        idx.names.insert(name, ref);
    }
    idx.names.shrink();
    for (auto& [list, lp] : probes) {
        idx.list_probes.push_back(std::move(lp));
    }

    auto sets = std::make_shared<NamePatternSets>();
    for (std::size_t k = 0; k < pattern_input.size(); ++k) {
        auto& in = pattern_input[k];
        if (in.patterns.empty()) {
            continue;
        }
        RE2::Options opts;
        opts.set_log_errors(false);
        opts.set_encoding(RE2::Options::EncodingUTF8);
        // A bigger DFA budget than one regex gets: the set holds every pattern.
        opts.set_max_mem(64 << 20);
        PatternSet ps;
        ps.on_domains = k == 1;
        ps.set = std::make_unique<RE2::Set>(opts, RE2::UNANCHORED);
        for (std::size_t p = 0; p < in.patterns.size(); ++p) {
            const auto rule = in.rule_of[p];
            if (ps.set->Add(in.patterns[p], nullptr) < 0) {
                set_bit(idx.always, rule); // not valid UTF-8 as a pattern: no prefilter
                continue;
            }
            ps.rule_of.push_back(rule);
            if (in.glob[p]) {
                put(ps.glob_rules, rule);
            }
        }
        if (ps.rule_of.empty()) {
            continue;
        }
        if (!ps.set->Compile()) {
            // Cannot prefilter these: the rules become always-candidates.
            for (auto r : ps.rule_of) {
                set_bit(idx.always, r);
            }
            continue;
        }
        ps.rules = ps.rule_of;
        std::sort(ps.rules.begin(), ps.rules.end());
        ps.rules.erase(std::unique(ps.rules.begin(), ps.rules.end()), ps.rules.end());
        sets->sets.push_back(std::move(ps));
    }
    if (!sets->sets.empty()) {
        idx.patterns = std::move(sets);
    }
    build_post_index(set, idx);
    idx.built = true;
    set.pre_index = std::move(idx);
}

std::string describe_rule_index(const PolicySet& set) {
    const RuleIndex& x = set.pre_index;
    std::size_t always = 0;
    for (auto w : x.always) {
        always += static_cast<std::size_t>(__builtin_popcountll(w));
    }
    std::size_t post_always = 0;
    for (auto w : x.post_phase_always) {
        post_always += static_cast<std::size_t>(__builtin_popcountll(w));
    }
    std::size_t patterns = 0;
    if (x.patterns != nullptr) {
        for (const auto& ps : x.patterns->sets) {
            patterns += ps.rule_of.size();
        }
    }
    return std::to_string(x.rule_count) + " DNS rules: " + std::to_string(x.names.size()) +
           " names (" + std::to_string(x.rule_ids.size()) + " postings), " +
           std::to_string(x.list_probes.size()) + " lists probed in place, " +
           std::to_string(patterns) + " patterns in " +
           std::to_string(x.patterns != nullptr ? x.patterns->sets.size() : 0) + " RE2 sets, " +
           std::to_string(x.by_category.size()) + " categories, " +
           std::to_string(x.by_rtype.size()) + " query types, " +
           std::to_string(x.by_location.size()) + " locations, " + std::to_string(always) +
           " always-candidates, " + std::to_string(x.post.size()) + " post-resolution (" +
           std::to_string(x.resolved_ips.block_count()) + " resolved-IP blocks in " +
           std::to_string(x.resolved_ips.levels.size()) + " prefix lengths, " +
           std::to_string(post_always) + " post-phase rules for every response)";
}

} // namespace resolver::policy
