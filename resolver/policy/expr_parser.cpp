// SPDX-License-Identifier: MIT
// Recursive-descent parser for the wirefilter subset Gateway uses (reference §2.3). Literals
// are lexed in context (after the field, by its type), as wirefilter's own lexer does, which
// keeps IPs, CIDRs, ranges and numbers unambiguous without a token stream.
#include <re2/re2.h>

#include <cctype>
#include <charconv>

#include "resolver/policy/expr.hpp"
#include "resolver/policy/geo.hpp"

namespace resolver::policy {

struct ExprBuilder {
    static void set(Expr& e, std::unique_ptr<Node> root, Phase phase, std::uint64_t fields,
                    std::string source) {
        e.root_ = std::move(root);
        e.phase_ = phase;
        e.fields_ = fields;
        e.source_ = std::move(source);
    }
};

namespace {

/// Fills Comparison::regex_min/max for patterns whose matches are pinned to the value's first
/// byte (a leading ^, no alternation anywhere: "^a|b" is not pinned; no (?m) flag, which lets
/// ^ and $ match at line breaks) and, with an unescaped trailing $, to its last.
void set_regex_bounds(Comparison& c, const std::string& pattern, const RE2& re) {
    if (pattern.empty() || pattern.front() != '^' || pattern.find('|') != std::string::npos) {
        return;
    }
    for (auto at = pattern.find("(?"); at != std::string::npos; at = pattern.find("(?", at + 2)) {
        const auto end = pattern.find_first_of(":)", at + 2);
        if (pattern.find('m', at + 2) < end) {
            return;
        }
    }
    if (!re.PossibleMatchRange(&c.regex_min, &c.regex_max, 16)) {
        return;
    }
    std::size_t slashes = 0;
    for (auto k = pattern.size() - 1; k > 0 && pattern[k - 1] == '\\'; --k) {
        ++slashes;
    }
    c.regex_lower = true;
    c.regex_upper = pattern.size() > 1 && pattern.back() == '$' && slashes % 2 == 0;
}

bool is_ident_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '.';
}

struct Failure {
    std::size_t pos;
    std::string message;
};

class Parser {
public:
    Parser(std::string_view src, const ListLookup& lists, const ExprOptions& options)
        : s_(src), lists_(lists), options_(options) {}

    std::unique_ptr<Node> parse_all() {
        auto n = parse_or();
        skip_ws();
        if (n && pos_ < s_.size()) {
            fail(pos_, "unexpected input '" + std::string(s_.substr(pos_, 12)) +
                           "': expected 'and', 'or', 'xor' or the end of the expression");
            return nullptr;
        }
        return n;
    }

    std::optional<Failure> failure;
    std::vector<Failure> warnings; // the expression compiles, but a reader should know this
    Phase phase = Phase::Pre;
    std::uint64_t fields = 0;

private:
    void fail(std::size_t at, std::string msg) {
        if (!failure) {
            failure = Failure{at, std::move(msg)};
        }
    }
    void skip_ws() {
        while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_])) != 0) {
            ++pos_;
        }
    }
    bool peek_symbol(std::string_view sym) const { return s_.substr(pos_, sym.size()) == sym; }
    bool eat_symbol(std::string_view sym) {
        skip_ws();
        if (peek_symbol(sym)) {
            pos_ += sym.size();
            return true;
        }
        return false;
    }
    /// A keyword must not run into an identifier character ("order" is not "or").
    bool peek_word(std::string_view w) const {
        if (s_.substr(pos_, w.size()) != w) {
            return false;
        }
        auto end = pos_ + w.size();
        return end >= s_.size() || !is_ident_char(s_[end]);
    }
    bool eat_word(std::string_view w) {
        skip_ws();
        if (peek_word(w)) {
            pos_ += w.size();
            return true;
        }
        return false;
    }

    using NodePtr = std::unique_ptr<Node>;

    static NodePtr make(Node::Kind k, std::vector<NodePtr> kids) {
        auto n = std::make_unique<Node>();
        n->kind = k;
        n->kids = std::move(kids);
        return n;
    }

    // or < xor < and (reference §2.3: `or` binds loosest).
    NodePtr parse_or() { return parse_chain(Node::Kind::Or, "or", "||", &Parser::parse_xor); }
    NodePtr parse_xor() { return parse_chain(Node::Kind::Xor, "xor", "^^", &Parser::parse_and); }
    NodePtr parse_and() { return parse_chain(Node::Kind::And, "and", "&&", &Parser::parse_unary); }

    NodePtr parse_chain(Node::Kind kind, std::string_view word, std::string_view sym,
                        NodePtr (Parser::*next)()) {
        std::vector<NodePtr> kids;
        auto first = (this->*next)();
        if (!first) {
            return nullptr;
        }
        kids.push_back(std::move(first));
        while (true) {
            skip_ws();
            if (!(eat_word(word) || eat_symbol(sym))) {
                break;
            }
            auto n = (this->*next)();
            if (!n) {
                return nullptr;
            }
            kids.push_back(std::move(n));
        }
        if (kids.size() == 1) {
            return std::move(kids.front());
        }
        return make(kind, std::move(kids));
    }

    struct DepthGuard {
        Parser& p;
        explicit DepthGuard(Parser& parser) : p(parser) { ++p.depth_; }
        ~DepthGuard() { --p.depth_; }
        DepthGuard(const DepthGuard&) = delete;
        DepthGuard& operator=(const DepthGuard&) = delete;
    };

    NodePtr parse_unary() {
        DepthGuard guard(*this);
        skip_ws();
        if (depth_ > kMaxNesting) {
            fail(pos_, "expression nested deeper than " + std::to_string(kMaxNesting) + " levels");
            return nullptr;
        }
        if (eat_word("not") || (peek_symbol("!") && !peek_symbol("!=") && eat_symbol("!"))) {
            auto n = parse_unary();
            if (!n) {
                return nullptr;
            }
            std::vector<NodePtr> kids;
            kids.push_back(std::move(n));
            return make(Node::Kind::Not, std::move(kids));
        }
        if (eat_symbol("(")) {
            auto n = parse_or();
            if (!n) {
                return nullptr;
            }
            if (!eat_symbol(")")) {
                fail(pos_, "expected ')'");
                return nullptr;
            }
            return n;
        }
        for (auto [word, kind] : {std::pair{std::string_view("any"), Node::Kind::Any},
                                  std::pair{std::string_view("all"), Node::Kind::All}}) {
            auto save = pos_;
            if (eat_word(word)) {
                if (!eat_symbol("(")) {
                    pos_ = save;
                    break; // maybe a field that starts with "any"; let the comparison fail
                }
                auto start = pos_;
                if (quantifier_) {
                    fail(save, "nested any()/all() is not supported");
                    return nullptr;
                }
                quantifier_ = true;
                star_seen_ = false;
                auto n = parse_or();
                quantifier_ = false;
                if (!n) {
                    return nullptr;
                }
                if (!eat_symbol(")")) {
                    fail(pos_, "expected ')' to close " + std::string(word) + "(");
                    return nullptr;
                }
                if (!star_seen_) {
                    fail(start, std::string(word) + "() needs an array field mapped with [*]");
                    return nullptr;
                }
                std::vector<NodePtr> kids;
                kids.push_back(std::move(n));
                return make(kind, std::move(kids));
            }
        }
        return parse_comparison();
    }

    // ---- comparison ----

    NodePtr parse_comparison() {
        skip_ws();
        auto start = pos_;
        while (pos_ < s_.size() && is_ident_char(s_[pos_])) {
            ++pos_;
        }
        std::string name(s_.substr(start, pos_ - start));
        if (name.empty()) {
            fail(start, pos_ < s_.size()
                            ? "expected a field name, found '" + std::string(1, s_[pos_]) + "'"
                            : "expected a field name, found the end");
            return nullptr;
        }
        auto cmp = std::make_unique<Comparison>();
        // Index: [*], [N] or ["key"]; identity.groups[*].name rewrites to identity.groups.name.
        std::size_t index_pos = pos_;
        if (eat_symbol("[")) {
            skip_ws();
            if (eat_symbol("*")) {
                cmp->index = Comparison::Index::Star;
            } else if (pos_ < s_.size() && s_[pos_] == '"') {
                auto key = parse_string_literal();
                if (!key) {
                    return nullptr;
                }
                cmp->index = Comparison::Index::Key;
                cmp->key = std::move(*key);
                star_seen_ = true; // a map value is an array: any()/all() range over it
            } else {
                auto n = parse_int_literal();
                if (!n) {
                    return nullptr;
                }
                if (*n < 0) {
                    fail(index_pos, "array index must not be negative");
                    return nullptr;
                }
                cmp->index = Comparison::Index::Pos;
                cmp->pos = *n;
            }
            if (!eat_symbol("]")) {
                fail(pos_, "expected ']'");
                return nullptr;
            }
            if (pos_ < s_.size() && s_[pos_] == '.' && name == "identity.groups") {
                auto sub_start = ++pos_;
                while (pos_ < s_.size() && is_ident_char(s_[pos_])) {
                    ++pos_;
                }
                name += "." + std::string(s_.substr(sub_start, pos_ - sub_start));
            }
        }
        const FieldInfo* f = find_field(name);
        if (f == nullptr) {
            fail(start, "unknown field '" + name + "'");
            return nullptr;
        }
        if (f->producer.empty()) {
            fail(start, "field '" + name + "' needs " + std::string(f->missing) +
                            ", which this lab has no input for yet");
            return nullptr;
        }
        cmp->field = f;
        fields |= 1ULL << static_cast<unsigned>(f->id);
        if (f->phase > phase) {
            phase = f->phase;
        }
        if (f->map && cmp->index != Comparison::Index::Key) {
            fail(index_pos, "field '" + name + "' is a map: index it with [\"key\"]");
            return nullptr;
        }
        if (!f->map && cmp->index == Comparison::Index::Key) {
            fail(index_pos, "field '" + name + "' is not a map");
            return nullptr;
        }
        if (!f->array &&
            (cmp->index == Comparison::Index::Star || cmp->index == Comparison::Index::Pos)) {
            fail(index_pos, "field '" + name + "' is not an array");
            return nullptr;
        }
        if (cmp->index == Comparison::Index::Star) {
            if (!quantifier_) {
                fail(start,
                     "'" + name + "[*]' maps over an array: wrap it in any(...) or all(...)");
                return nullptr;
            }
            star_seen_ = true;
        }
        skip_ws();
        auto op_pos = pos_;
        auto op = parse_op();
        if (!op) {
            if (f->type != ValueType::Bool) {
                fail(op_pos, "expected a comparison operator after '" + name + "' (type " +
                                 std::string(value_type_name(f->type)) + ")");
                return nullptr;
            }
            cmp->op = Op::IsTrue;
            return compare_node(std::move(cmp));
        }
        cmp->op = *op;
        if (!check_op(*f, *op, op_pos)) {
            return nullptr;
        }
        skip_ws();
        if (!parse_rhs(*cmp)) {
            return nullptr;
        }
        return compare_node(std::move(cmp));
    }

    static NodePtr compare_node(std::unique_ptr<Comparison> cmp) {
        auto n = std::make_unique<Node>();
        n->kind = Node::Kind::Compare;
        n->cmp = std::move(cmp);
        return n;
    }

    std::optional<Op> parse_op() {
        struct Spelling {
            std::string_view text;
            Op op;
            bool word;
        };
        static constexpr Spelling kOps[] = {
            {"==", Op::Eq, false},
            {"!=", Op::Ne, false},
            {"<=", Op::Le, false},
            {">=", Op::Ge, false},
            {"<", Op::Lt, false},
            {">", Op::Gt, false},
            {"~", Op::Matches, false},
            {"&&", Op::IsTrue, false}, // not an op: logical and
            {"&", Op::BitAnd, false},
            {"eq", Op::Eq, true},
            {"ne", Op::Ne, true},
            {"lt", Op::Lt, true},
            {"le", Op::Le, true},
            {"gt", Op::Gt, true},
            {"ge", Op::Ge, true},
            {"matches", Op::Matches, true},
            {"contains", Op::Contains, true},
            {"wildcard", Op::Wildcard, true},
            {"bitwise_and", Op::BitAnd, true},
            {"in", Op::In, true},
        };
        if (eat_word("strict")) {
            if (!eat_word("wildcard")) {
                fail(pos_, "expected 'wildcard' after 'strict'");
                return std::nullopt;
            }
            return Op::StrictWildcard;
        }
        for (const auto& sp : kOps) {
            if (sp.word ? peek_word(sp.text) : peek_symbol(sp.text)) {
                if (sp.op == Op::IsTrue) {
                    return std::nullopt; // "&&" after a bare boolean field
                }
                pos_ += sp.text.size();
                return sp.op;
            }
        }
        return std::nullopt;
    }

    bool check_op(const FieldInfo& f, Op op, std::size_t at) {
        bool ok = false;
        switch (f.type) {
        case ValueType::Bool:
            ok = false;
            break;
        case ValueType::Int:
            ok = op == Op::Eq || op == Op::Ne || op == Op::Lt || op == Op::Le || op == Op::Gt ||
                 op == Op::Ge || op == Op::In || op == Op::BitAnd;
            break;
        case ValueType::Ip:
            ok = op == Op::Eq || op == Op::Ne || op == Op::Lt || op == Op::Le || op == Op::Gt ||
                 op == Op::Ge || op == Op::In;
            break;
        case ValueType::String:
            ok = op != Op::BitAnd;
            break;
        }
        if (!ok) {
            fail(at, "operator '" + std::string(op_name(op)) + "' is not defined for field '" +
                         std::string(f.name) + "' of type " + std::string(value_type_name(f.type)));
        }
        return ok;
    }

    bool parse_rhs(Comparison& c) {
        const auto type = c.field->type;
        auto at = pos_;
        if (c.op == Op::In) {
            if (pos_ < s_.size() && s_[pos_] == '$') {
                return parse_list_ref(c);
            }
            if (!eat_symbol("{")) {
                fail(at, "expected '{' or '$<list>' after 'in'");
                return false;
            }
            while (true) {
                skip_ws();
                if (eat_symbol("}")) {
                    break;
                }
                if (pos_ >= s_.size()) {
                    fail(pos_, "unterminated set: expected '}'");
                    return false;
                }
                if (!parse_set_element(c, type)) {
                    return false;
                }
            }
            if (type == ValueType::Ip) {
                c.ip_set.seal();
            }
            flush_unknown_categories();
            return true;
        }
        switch (type) {
        case ValueType::Int: {
            auto v = parse_int_literal();
            if (!v) {
                return false;
            }
            c.int_value = *v;
            check_category(c, *v, at);
            flush_unknown_categories();
            return true;
        }
        case ValueType::Ip: {
            auto tok = ip_token();
            auto a = net::IpAddr::parse(tok);
            if (!a) {
                fail(at, tok.empty() ? "expected an IP address"
                                     : "'" + std::string(tok) + "' is not an IP address" +
                                           (tok.find('/') != std::string_view::npos
                                                ? " (CIDRs are only valid inside 'in {...}')"
                                                : ""));
                return false;
            }
            c.ip_value = *a;
            return true;
        }
        case ValueType::String: {
            auto v = parse_string_literal(c.op == Op::Matches);
            if (!v) {
                return false;
            }
            if (c.op == Op::Eq || c.op == Op::Ne) {
                continent_literal(c, *v, at);
            }
            if (c.op == Op::Matches) {
                // Compiled once the whole expression is parsed, when the number of regexes
                // sharing kRegexMemoryPerExpression is known (compile_regexes).
                regexes_.push_back({&c, at});
            }
            c.str_value = std::move(*v);
            return true;
        }
        case ValueType::Bool:
            break;
        }
        fail(at, "unexpected value");
        return false;
    }

    bool parse_set_element(Comparison& c, ValueType type) {
        auto at = pos_;
        switch (type) {
        case ValueType::String: {
            auto v = parse_string_literal();
            if (!v) {
                return false;
            }
            continent_literal(c, *v, at);
            c.str_set.insert(std::move(*v));
            return true;
        }
        case ValueType::Int: {
            auto lo = parse_int_literal();
            if (!lo) {
                return false;
            }
            auto hi = *lo;
            if (peek_symbol("..")) {
                pos_ += 2;
                auto h = parse_int_literal();
                if (!h) {
                    return false;
                }
                hi = *h;
                if (hi < *lo) {
                    fail(at, "empty integer range");
                    return false;
                }
            } else {
                check_category(c, *lo, at); // a range is deliberate: its gaps are not checked
            }
            c.int_set.push_back({*lo, hi});
            return true;
        }
        case ValueType::Ip: {
            auto tok = ip_token();
            auto dots = tok.find("..");
            if (dots != std::string_view::npos) {
                auto lo = net::IpAddr::parse(tok.substr(0, dots));
                auto hi = net::IpAddr::parse(tok.substr(dots + 2));
                if (!lo || !hi || lo->v4 != hi->v4 || *hi < *lo) {
                    fail(at, "'" + std::string(tok) + "' is not a valid IP range");
                    return false;
                }
                net::IpRange r;
                r.lo = *lo;
                r.hi = *hi;
                c.ip_set.add(r);
                return true;
            }
            auto r = net::IpRange::parse_cidr(tok);
            if (!r) {
                fail(at, tok.empty() ? "expected an IP address or CIDR"
                                     : "'" + std::string(tok) + "' is not an IP address or CIDR");
                return false;
            }
            c.ip_set.add(*r);
            return true;
        }
        case ValueType::Bool:
            break;
        }
        fail(at, "unexpected set element");
        return false;
    }

    bool parse_list_ref(Comparison& c) {
        auto at = pos_;
        ++pos_; // '$'
        auto start = pos_;
        // `$` + [a-z0-9_.] (wirefilter) or a UUID with hyphens (Gateway, reference §2.3).
        while (pos_ < s_.size() && (is_ident_char(s_[pos_]) || s_[pos_] == '-')) {
            ++pos_;
        }
        auto id = s_.substr(start, pos_ - start);
        if (id.empty()) {
            fail(at, "expected a list id after '$'");
            return false;
        }
        const PolicyList* list = lists_ ? lists_(id) : nullptr;
        std::string uuid;
        if (list == nullptr && lists_) {
            // The 2021 DNS policy docs write `$225092761c534a46933a9ff5e5e7b2ec` for the list
            // 22509276-1c53-4a46-933a-9ff5e5e7b2ec: 32 hex digits name the UUID with hyphens.
            uuid = hyphenated_uuid(id);
            if (!uuid.empty()) {
                list = lists_(uuid);
            }
        }
        if (list == nullptr) {
            fail(at, "unknown list '$" + std::string(id) + "'" +
                         (uuid.empty() ? "" : " (nor list " + uuid + ")"));
            return false;
        }
        const auto type = c.field->type;
        bool ok =
            (type == ValueType::Ip) == (list->type == ListType::Ip) && type != ValueType::Bool;
        if (!ok) {
            fail(at, "list '$" + std::string(id) + "' has type " +
                         std::string(list_type_name(list->type)) + ", field '" +
                         std::string(c.field->name) + "' has type " +
                         std::string(value_type_name(type)));
            return false;
        }
        c.op = Op::InList;
        c.list = list;
        return true;
    }

    std::string_view ip_token() {
        auto start = pos_;
        while (pos_ < s_.size() && (std::isxdigit(static_cast<unsigned char>(s_[pos_])) != 0 ||
                                    s_[pos_] == ':' || s_[pos_] == '.' || s_[pos_] == '/')) {
            ++pos_;
        }
        return s_.substr(start, pos_ - start);
    }

    std::optional<std::int64_t> parse_int_literal() {
        skip_ws();
        auto at = pos_;
        bool neg = false;
        if (pos_ < s_.size() && s_[pos_] == '-') {
            neg = true;
            ++pos_;
        }
        int base = 10;
        if (peek_symbol("0x") || peek_symbol("0X")) {
            base = 16;
            pos_ += 2;
        } else if (pos_ + 1 < s_.size() && s_[pos_] == '0' &&
                   std::isdigit(static_cast<unsigned char>(s_[pos_ + 1])) != 0) {
            base = 8; // wirefilter: a leading 0 means octal (0123 == 83)
            ++pos_;
        }
        auto digits_start = pos_;
        while (pos_ < s_.size() && std::isxdigit(static_cast<unsigned char>(s_[pos_])) != 0) {
            ++pos_;
        }
        std::int64_t v = 0;
        auto digits = s_.substr(digits_start, pos_ - digits_start);
        auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v, base);
        if (digits.empty() || ec != std::errc{} || p != digits.data() + digits.size()) {
            fail(at, digits.empty() ? "expected an integer"
                                    : "'" + std::string(s_.substr(at, pos_ - at)) +
                                          "' is not a valid integer");
            return std::nullopt;
        }
        if (pos_ < s_.size() && (is_ident_char(s_[pos_]) && s_[pos_] != '.')) {
            fail(pos_, "unexpected character after integer");
            return std::nullopt;
        }
        return neg ? -v : v;
    }

    /// `regex`: the literal is a `matches` pattern (lenient_escape keeps `\.` for it).
    std::optional<std::string> parse_string_literal(bool regex = false) {
        skip_ws();
        auto at = pos_;
        if (pos_ < s_.size() && s_[pos_] == 'r') {
            // Raw string: r"..." or r#"..."# with any number of '#'.
            std::size_t p = pos_ + 1;
            std::size_t hashes = 0;
            while (p < s_.size() && s_[p] == '#') {
                ++hashes;
                ++p;
            }
            if (p >= s_.size() || s_[p] != '"') {
                fail(at, "expected a string literal");
                return std::nullopt;
            }
            std::string close = "\"" + std::string(hashes, '#');
            auto end = s_.find(close, p + 1);
            if (end == std::string_view::npos) {
                fail(at, "unterminated raw string");
                return std::nullopt;
            }
            std::string out(s_.substr(p + 1, end - p - 1));
            pos_ = end + close.size();
            return out;
        }
        if (pos_ >= s_.size() || s_[pos_] != '"') {
            fail(at, pos_ < s_.size()
                         ? "expected a string literal, found '" + std::string(1, s_[pos_]) + "'"
                         : "expected a string literal, found the end");
            return std::nullopt;
        }
        ++pos_;
        std::string out;
        bool pipe_noted = false; // one warning per pattern, however many `\|` it has
        while (true) {
            if (pos_ >= s_.size()) {
                fail(at, "unterminated string literal");
                return std::nullopt;
            }
            char c = s_[pos_];
            if (c == '"') {
                ++pos_;
                return out;
            }
            if (c != '\\') {
                out.push_back(c);
                ++pos_;
                continue;
            }
            auto esc_at = pos_;
            ++pos_;
            if (pos_ >= s_.size()) {
                fail(esc_at, "unterminated escape");
                return std::nullopt;
            }
            char e = s_[pos_];
            if (e == '"' || e == '\\') {
                out.push_back(e);
                ++pos_;
            } else if (e == '.' || e == '|') {
                if (!lenient_escape(esc_at, e, regex, out)) {
                    return std::nullopt;
                }
                if (e == '|' && regex && !pipe_noted) {
                    // The lab's reading makes the pattern's alternatives one literal string
                    // no host name contains: say so rather than let the rule silently never
                    // match (the dashboard shows `\|` where Markdown escaped an `|`).
                    warn(esc_at, "'\\|' in a matches pattern is a literal '|', which no host "
                                 "name contains, so this pattern cannot match; Gateway's "
                                 "reading is UNCONFIRMED; for alternatives write '|'");
                    pipe_noted = true;
                }
                ++pos_;
            } else if (e == 'x') {
                auto hex = s_.substr(pos_ + 1, 2);
                unsigned v = 0;
                auto [p, ec] = std::from_chars(hex.data(), hex.data() + hex.size(), v, 16);
                if (hex.size() != 2 || ec != std::errc{} || p != hex.data() + 2) {
                    fail(esc_at, "invalid \\x escape: expected two hex digits");
                    return std::nullopt;
                }
                out.push_back(static_cast<char>(v));
                pos_ += 3;
            } else if (e >= '0' && e <= '7') {
                auto oct = s_.substr(pos_, 3);
                unsigned v = 0;
                auto [p, ec] = std::from_chars(oct.data(), oct.data() + oct.size(), v, 8);
                if (oct.size() != 3 || ec != std::errc{} || p != oct.data() + 3 || v > 255) {
                    fail(esc_at, "invalid octal escape: expected three octal digits");
                    return std::nullopt;
                }
                out.push_back(static_cast<char>(v));
                pos_ += 3;
            } else {
                fail(esc_at, std::string("invalid escape '\\") + e +
                                 "' (a string knows \\\", \\\\, \\xHH, \\OOO, and \\. and \\| "
                                 "as Gateway accepts them)");
                return std::nullopt;
            }
        }
    }

    void warn(std::size_t at, std::string msg) { warnings.push_back({at, std::move(msg)}); }

    /// `\.` and `\|`: open-source wirefilter refuses them (engine/src/rhs_types/bytes.rs),
    /// but Gateway runs rules with them: Cloudflare's own "Block phishing attacks" API example
    /// (dns-policies/common-policies) has `\|`, a live rule has `\.`. A `matches` pattern
    /// keeps the backslash, so RE2 reads a literal `.` or `|` (the escape passes through to the
    /// regex, the most likely reading); any other string gets the character itself, so
    /// `dns.fqdn == "a\.b"` is `a.b`: in every operator the escape means the literal
    /// character. [behaviour] wirefilter_strict_escapes restores wirefilter's refusal.
    bool lenient_escape(std::size_t at, char e, bool regex, std::string& out) {
        if (options_.strict_escapes) {
            fail(at, std::string("invalid escape '\\") + e +
                         "': refused as open-source wirefilter refuses it ([behaviour] "
                         "wirefilter_strict_escapes = true; Gateway accepts it)");
            return false;
        }
        if (regex) {
            out.push_back('\\');
        }
        out.push_back(e);
        return true;
    }

    static bool is_continent_field(const Comparison& c) {
        return c.field->id == FieldId::DnsSrcGeoContinent ||
               c.field->id == FieldId::DnsDstGeoContinent;
    }

    /// A continent literal compared with == / != / in {...}, read as [behaviour]
    /// continent_values says: under "both" a name becomes its code (the fields hold codes);
    /// a value the fields can never hold is kept as written and warned about.
    void continent_literal(const Comparison& c, std::string& value, std::size_t at) {
        if (!is_continent_field(c)) {
            return;
        }
        const std::string_view code = continent_code(value);
        const bool is_code = !continent_name(value).empty();
        const std::string field(c.field->name);
        switch (options_.continent_values) {
        case ContinentValues::Both:
            if (!code.empty()) {
                value = std::string(code);
                return;
            }
            break;
        case ContinentValues::Code:
            if (!code.empty()) {
                warn(at, "'" + value +
                             "' is a continent name, but with [behaviour] "
                             "continent_values = \"code\" " +
                             field + " holds codes (" + std::string(code) +
                             "): this comparison never matches");
                return;
            }
            break;
        case ContinentValues::Name:
            if (is_code) {
                warn(at, "'" + value +
                             "' is a continent code, but with [behaviour] "
                             "continent_values = \"name\" " +
                             field + " holds names (\"" + std::string(continent_name(value)) +
                             "\"): this comparison never matches");
                return;
            }
            break;
        }
        if (code.empty() && !is_code) {
            warn(at, "'" + value + "' is neither a continent code (AF AN AS EU NA OC SA T1) " +
                         "nor a name (\"North America\"): " + field + " never holds it");
        }
    }

    /// Category IDs Cloudflare uses but the lab's table lacks (33, 179 and 180 are in
    /// Cloudflare's own "All-DNS-ContentCategories-Blocklist" and real accounts) load with a
    /// warning; the rule matches them wherever the category data has them.
    void check_category(const Comparison& c, std::int64_t id, std::size_t at) {
        const auto f = c.field->id;
        if ((f == FieldId::DnsContentCategory || f == FieldId::DnsSecurityCategory) &&
            options_.category_known && !options_.category_known(id)) {
            unknown_categories_.emplace_back(id, at);
        }
    }

    /// One warning per comparison for the unknown IDs check_category collected.
    void flush_unknown_categories() {
        if (unknown_categories_.empty()) {
            return;
        }
        std::string ids;
        for (const auto& [id, at] : unknown_categories_) {
            ids += (ids.empty() ? "" : ", ") + std::to_string(id);
        }
        const bool one = unknown_categories_.size() == 1;
        warn(unknown_categories_.front().second,
             std::string(one ? "category ID " : "category IDs ") + ids + (one ? " is" : " are") +
                 " not in the lab's category table (Cloudflare uses IDs its published table "
                 "lacks): the rule loads and matches " +
                 (one ? "it" : "them") +
                 " where the category data has them; --category-ids names them");
        unknown_categories_.clear();
    }

    /// `8-4-4-4-12` for 32 hex digits, "" for anything else.
    static std::string hyphenated_uuid(std::string_view id) {
        if (id.size() != 32) {
            return {};
        }
        std::string out;
        for (std::size_t i = 0; i < id.size(); ++i) {
            if (std::isxdigit(static_cast<unsigned char>(id[i])) == 0) {
                return {};
            }
            if (i == 8 || i == 12 || i == 16 || i == 20) {
                out.push_back('-');
            }
            out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(id[i]))));
        }
        return out;
    }

public:
    /// Compiles every `matches` pattern with an even share of kRegexMemoryPerExpression.
    bool compile_regexes() {
        if (regexes_.empty()) {
            return true;
        }
        const std::int64_t share =
            kRegexMemoryPerExpression / static_cast<std::int64_t>(regexes_.size());
        for (const auto& [c, at] : regexes_) {
            RE2::Options opts;
            opts.set_log_errors(false);
            opts.set_encoding(RE2::Options::EncodingUTF8);
            opts.set_max_mem(share);
            auto re = std::make_shared<const RE2>(c->str_value, opts);
            if (re->error_code() == RE2::ErrorPatternTooLarge) {
                fail(at, "regular expression too large: more than its " +
                             std::to_string(share / 1024) + " KiB share of the " +
                             std::to_string(kRegexMemoryPerExpression >> 20) + " MiB the " +
                             std::to_string(regexes_.size()) +
                             " regular expression(s) of one expression may use");
                return false;
            }
            if (!re->ok()) {
                fail(at, "invalid regular expression: " + re->error());
                return false;
            }
            set_regex_bounds(*c, c->str_value, *re);
            c->regex = std::move(re);
        }
        return true;
    }

private:
    struct PendingRegex {
        Comparison* cmp; // owned by the AST being built; stable (the Comparison is heap-held)
        std::size_t at;  // column of the pattern, for errors
    };
    std::vector<PendingRegex> regexes_;
    std::string_view s_;
    const ListLookup& lists_;
    const ExprOptions& options_;
    std::vector<std::pair<std::int64_t, std::size_t>> unknown_categories_; // ID, position
    std::size_t pos_ = 0;
    int depth_ = 0;
    bool quantifier_ = false;
    bool star_seen_ = false;
};

} // namespace

std::string_view op_name(Op op) {
    switch (op) {
    case Op::Eq:
        return "==";
    case Op::Ne:
        return "!=";
    case Op::Lt:
        return "<";
    case Op::Le:
        return "<=";
    case Op::Gt:
        return ">";
    case Op::Ge:
        return ">=";
    case Op::BitAnd:
        return "&";
    case Op::In:
        return "in";
    case Op::InList:
        return "in $list";
    case Op::Matches:
        return "matches";
    case Op::Contains:
        return "contains";
    case Op::Wildcard:
        return "wildcard";
    case Op::StrictWildcard:
        return "strict wildcard";
    case Op::IsTrue:
        return "(bare boolean)";
    }
    return "?";
}

std::string_view list_type_name(ListType t) {
    switch (t) {
    case ListType::Domain:
        return "DOMAIN";
    case ListType::Ip:
        return "IP";
    case ListType::Email:
        return "EMAIL";
    case ListType::Url:
        return "URL";
    case ListType::Serial:
        return "SERIAL";
    }
    return "?";
}

CompileResult compile_expr(std::string_view source, const ListLookup& lists,
                           const ExprOptions& options) {
    CompileResult r;
    if (source.size() > kMaxExpressionLength) {
        r.error = {kMaxExpressionLength + 1, "expression is " + std::to_string(source.size()) +
                                                 " characters long; Gateway's limit is " +
                                                 std::to_string(kMaxExpressionLength)};
        return r;
    }
    bool blank = true;
    for (char c : source) {
        if (std::isspace(static_cast<unsigned char>(c)) == 0) {
            blank = false;
            break;
        }
    }
    Expr e;
    if (blank) {
        r.expr = std::move(e);
        return r;
    }
    Parser p(source, lists, options);
    auto root = p.parse_all();
    if (root && !p.failure) {
        (void)p.compile_regexes();
    }
    if (!root || p.failure) {
        r.error = p.failure ? ExprError{p.failure->pos + 1, p.failure->message}
                            : ExprError{1, "syntax error"};
        return r;
    }
    ExprBuilder::set(e, std::move(root), p.phase, p.fields, std::string(source));
    r.expr = std::move(e);
    for (auto& w : p.warnings) {
        r.warnings.push_back({w.pos + 1, std::move(w.message)});
    }
    return r;
}

} // namespace resolver::policy
