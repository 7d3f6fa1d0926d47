// SPDX-License-Identifier: MIT
#pragma once
#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#include "resolver/policy/expr_fields.hpp"
#include "resolver/net/ip.hpp"
#include "resolver/policy/lists.hpp"

namespace re2 {
class RE2;
}

namespace resolver::policy {

/// Gateway's API limit on one policy expression (reference §7.5).
inline constexpr std::size_t kMaxExpressionLength = 140000;
/// Parenthesis / not / quantifier nesting limit, guarding the recursive-descent parser's stack.
inline constexpr int kMaxNesting = 64;
/// Memory all the `matches` regexes of one expression share (RE2 max_mem: the compiled
/// programs and the DFA caches that grow while matching), split evenly between them. RE2's
/// default is 8 MiB for every regex: a 5 KB expression of 150 `\pL{200}` patterns then took
/// 325 MB. One regex keeps RE2's 8 MiB; docs/fuzzing.md has the measurements.
inline constexpr std::int64_t kRegexMemoryPerExpression = 8 << 20;

/// Comparison operators of the wirefilter subset (reference §2.3).
enum class Op : std::uint8_t {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    BitAnd,
    In,
    InList,
    Matches,
    Contains,
    Wildcard,
    StrictWildcard,
    IsTrue,
};
std::string_view op_name(Op op);

/// The values of every field for one query, as spans the caller owns for the duration of
/// eval(). A field with no value (no identity, no response yet) has `present == false`; every
/// comparison on it is false (so `not(identity.email == "x")` is true for anonymous users).
struct FieldView {
    bool present = false;
    bool boolean = false;
    std::span<const std::int64_t> ints;
    std::span<const net::IpAddr> ips;
    std::span<const std::string_view> strs;
};
struct FieldValues {
    std::array<FieldView, kFieldCount> views{};
    /// identity.saml_attributes["key"]; nullptr or missing key = absent.
    const std::map<std::string, std::vector<std::string>, std::less<>>* saml = nullptr;
    /// Regex semantics (behaviour `regex_anchored`): false = find anywhere (Rust is_match).
    bool regex_anchored = false;
};

/// Side facts one evaluation collects for ResolverDecision and the log.
struct EvalNotes {
    bool category_hit = false;        // a category comparison was true
    bool request_context_hit = false; // dns.categories_in_request_context_matches was true
    bool response_hit = false;        // a comparison on response IP facts was true
    std::vector<std::int64_t> matched_categories; // category values that made comparisons true
    std::vector<std::int64_t> matched_feeds;      // dns.indicator_feed IDs that made them true
};

struct Node;

/// A compiled, type-checked expression. Immutable and thread-safe to evaluate concurrently.
class Expr {
public:
    Expr();
    ~Expr();
    Expr(Expr&&) noexcept;
    Expr& operator=(Expr&&) noexcept;
    Expr(const Expr&) = delete;
    Expr& operator=(const Expr&) = delete;

    /// True for the empty expression (an absent `identity` or `traffic`), which always matches.
    [[nodiscard]] bool empty() const noexcept { return root_ == nullptr; }
    /// The latest phase of any field used (Pre for an empty expression).
    [[nodiscard]] Phase phase() const noexcept { return phase_; }
    [[nodiscard]] bool uses(FieldId f) const noexcept {
        return (fields_ >> static_cast<unsigned>(f)) & 1U;
    }
    [[nodiscard]] bool uses_category() const noexcept;
    /// Evaluates; pure, no allocation unless `notes` records matched categories.
    [[nodiscard]] bool eval(const FieldValues& values, EvalNotes& notes) const;
    /// Why eval() is false for `values`, for explain: the first clause that decided it and
    /// the fact it compared, e.g. `dns.location in {"…"}: dns.location is "…"`. Allocates.
    [[nodiscard]] std::string why_false(const FieldValues& values) const;
    [[nodiscard]] const std::string& source() const noexcept { return source_; }
    [[nodiscard]] const Node* root() const noexcept { return root_.get(); }

private:
    friend struct ExprBuilder;
    std::unique_ptr<Node> root_;
    Phase phase_ = Phase::Pre;
    std::uint64_t fields_ = 0;
    std::string source_;
};

/// Where a compile error is: 1-based column (byte offset + 1) into the expression.
struct ExprError {
    std::size_t column = 0;
    std::string message;
};

/// Resolves `$<id>` list references at compile time; returns nullptr for unknown lists.
using ListLookup = std::function<const PolicyList*(std::string_view id)>;

/// Which spelling the continent fields (`dns.src.geo.continent`, `dns.dst.geo.continent`)
/// hold ([behaviour] continent_values). The selector docs give `"North America"` as the
/// example while their own table lists codes (`NA`); which one Gateway matches is
/// UNCONFIRMED.
enum class ContinentValues : std::uint8_t {
    Code, // the fields hold codes; a name in a rule never matches (load warning)
    Name, // the fields hold names; a code in a rule never matches (load warning)
    Both, // the fields hold codes and a name in a rule is read as its code
};

/// What the compiler reads the way a [behaviour] setting says (Behaviour::expression_options
/// fills it, the loader adds the category table), so `explain` and the resolver, which load
/// through the same code, compile every expression alike.
struct ExprOptions {
    /// [behaviour] wirefilter_strict_escapes: refuse `\.` and `\|` in strings, as open-source
    /// wirefilter does. false (default): accept them as Gateway does (docs/policy.md).
    bool strict_escapes = false;
    ContinentValues continent_values = ContinentValues::Both;
    /// Whether a category ID is in the lab's category table; IDs it refuses get a warning
    /// (the rule still loads). Empty: no check.
    std::function<bool(std::int64_t)> category_known;
};

/// Parses and type-checks `source`. Errors: syntax, unknown field, type mismatch (operator
/// not valid for the field type, wrong literal type, list of the wrong type), bad regex
/// (compiled once here with RE2) or one too large for its share of kRegexMemoryPerExpression,
/// unknown list, nesting deeper than kMaxNesting, and expressions longer than
/// kMaxExpressionLength. An all-whitespace source compiles to the empty expression.
///
/// `$` + 32 hex digits without hyphens (the 2021 docs' spelling) names the list whose UUID
/// has them. Warnings (the expression compiles): category IDs `options.category_known`
/// refuses, continent values that never match under `options.continent_values`.
struct CompileResult {
    std::optional<Expr> expr;
    ExprError error;
    std::vector<ExprError> warnings; // column and message each; only when `expr` is set
    explicit operator bool() const noexcept { return expr.has_value(); }
};
CompileResult compile_expr(std::string_view source, const ListLookup& lists,
                           const ExprOptions& options = {});

// ---- AST (exposed for the evaluator and tests; treat as read-only) ----

/// Transparent string hash: set lookups by string_view without building a std::string.
struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
        return std::hash<std::string_view>{}(s);
    }
};
using StringSet = std::unordered_set<std::string, StringHash, std::equal_to<>>;

struct IntRange {
    std::int64_t lo;
    std::int64_t hi;
};

/// One `field[index] op rhs` comparison (or a bare boolean field).
struct Comparison {
    const FieldInfo* field = nullptr;
    enum class Index : std::uint8_t { None, Star, Pos, Key } index = Index::None;
    std::int64_t pos = 0;
    std::string key;
    Op op = Op::IsTrue;
    std::int64_t int_value = 0;
    net::IpAddr ip_value;
    std::string str_value;
    std::vector<IntRange> int_set;
    net::IpSet ip_set;
    StringSet str_set;
    const PolicyList* list = nullptr;
    std::shared_ptr<const re2::RE2> regex;
    /// Bounds from RE2::PossibleMatchRange for `matches` on a pattern anchored at the start
    /// (then every match is a prefix of the value, and a prefix is never above the value, so
    /// a value below regex_min cannot match) and, when also anchored at the end (the match is
    /// the whole value), above regex_max neither. Checked before running the regex.
    bool regex_lower = false;
    bool regex_upper = false;
    std::string regex_min, regex_max;
};

struct Node {
    enum class Kind : std::uint8_t { Compare, Not, And, Or, Xor, Any, All } kind = Kind::Compare;
    std::vector<std::unique_ptr<Node>> kids;
    std::unique_ptr<Comparison> cmp;
};

/// Whether `v` satisfies an IP comparison (`in {...}`, `in $list`, ordering ops), as the
/// evaluator tests one element. For prefilters that check a necessary comparison up front.
bool ip_matches(const Comparison& c, const net::IpAddr& v);

/// Evaluates one node of a compiled expression on its own (explain's clause-by-clause view).
bool eval_subtree(const Node& n, const FieldValues& values, EvalNotes& notes);

} // namespace resolver::policy
