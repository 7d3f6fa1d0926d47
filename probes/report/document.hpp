// SPDX-License-Identifier: MIT
#pragma once
#include <cstddef>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

namespace probes::report {

/// The one report model every subcommand renders through. A subcommand turns its own
/// results (a MatrixReport, a CheckReport, a self-test Report ...) into a Document once; each
/// output format is a renderer over Documents (formats.hpp), so a new format is one renderer
/// and every subcommand gains it. Pure data.

/// What a piece of text means; renderers choose how to show it (ANSI colour on a terminal,
/// emphasis in Markdown, a CSS class in HTML).
enum class Tone {
    Plain,
    Good,   // pass, agree
    Bad,    // fail, differ
    Warn,   // warnings, labels worth a look
    Strong, // headings inside a line, names
    Muted,  // secondary facts
    Code,   // literal text: ids, URLs, file names (`x` in Markdown)
};

/// How a question, a case or a check came out: the word on its badge. One list for every
/// subcommand, so every format colours the same outcome the same way (HTML: one CSS class
/// each, badge_name(); text: the Tone of badge_tone()).
enum class Badge {
    None,
    Identical,     // matrix: every target gave the same answer
    Equivalent,    // matrix: the same answer, cosmetic differences only
    Differ,        // targets disagree; replay: the lab disagrees with the log; diff: changed
    Blocked,       // the answer is a block (sinkhole, block page, REFUSED, EDE 15-17)
    AllFailed,     // matrix: no target answered
    Pass,          // an expectation or check met
    Fail,          // an expectation or check not met
    Warn,          // worth a look
    Info,          // facts only
    Skipped,       // not run
    NotApplicable, // cannot mean anything here
};
/// "identical", "equivalent", "differ", "blocked", "all-failed", "pass", "fail", "warn",
/// "info", "skipped", "n/a"; "" for None.
const char* badge_name(Badge b);
/// Good for identical, equivalent and pass; Bad for differ, all-failed and fail; Warn for
/// blocked and warn; Muted for the rest.
Tone badge_tone(Badge b);

struct Span {
    std::string text;
    Tone tone = Tone::Plain;
    Badge badge = Badge::None; // set: this span is an outcome's badge (coloured per badge)
};
using Spans = std::vector<Span>;

/// A heading: level 1 is the document's title, 2 a section, 3 an item inside a section.
struct Heading {
    int level = 2;
    Spans spans;
};

/// One line of prose. `indent` (spaces on a terminal) nests it under the line above; in
/// Markdown and HTML an indented line is a list item.
struct Line {
    int indent = 0;
    Spans spans;
};

/// Literal lines (DNS records as dig prints them, JSON): never re-wrapped. `gutter` is put
/// in front of each line on a terminal ("| "); other formats use a code block instead.
struct Preformatted {
    int indent = 0;
    std::string gutter;
    std::string language; // a hint for code blocks: "dns", "json", ""
    std::vector<std::string> lines;
};

/// Rows and columns (latency per target, the self-test's checks, a diff).
struct Table {
    enum class Align { Left, Right };
    struct Column {
        std::string name;
        Align align = Align::Left;
    };
    int indent = 0;
    std::vector<Column> columns;
    std::vector<std::vector<Spans>> rows; // one Spans per cell
};

/// An empty line on a terminal; a paragraph break elsewhere.
struct Break {};

/// Latency per target and transport, as a picture: HTML draws it as an inline SVG bar chart
/// (connect and query time, p50 and p95). Text and Markdown draw no pictures and skip it, so
/// a subcommand that adds a chart puts its figures in a Table as well.
struct LatencyChart {
    /// p50 and p95 (nearest rank) over the samples; samples == 0: nothing was measured (a
    /// datagram transport has no connect time, a reused connection none either).
    struct Figure {
        double p50 = 0;
        double p95 = 0;
        std::size_t samples = 0;
        static Figure of(const std::vector<double>& samples_ms);
    };
    struct Row {
        std::string target;    // the target's or endpoint's name
        std::string transport; // udp, tcp, tls, https-post ...
        Figure connect;
        Figure query;
    };
    std::string caption; // "latency over 3 passes, pass 1 cold"
    std::vector<Row> rows;
};

/// Gathers exchange timings into LatencyChart rows, one per (target, transport) in the order
/// first seen: connect time only from exchanges that opened a connection (connect_ms > 0,
/// not reused), query time from every answered exchange.
class LatencySamples {
public:
    /// A row even without samples (a target that never answered shows as "none measured").
    void add_target(const std::string& target, const std::string& transport);
    void add(const std::string& target, const std::string& transport, double connect_ms,
             double query_ms, bool reused);
    [[nodiscard]] bool empty() const { return rows_.empty(); }
    [[nodiscard]] LatencyChart chart(std::string caption) const;

private:
    struct Samples {
        std::string target, transport;
        std::vector<double> connect, query;
    };
    Samples& row(const std::string& target, const std::string& transport);
    std::vector<Samples> rows_;
};

using Block = std::variant<Heading, Line, Preformatted, Table, Break, LatencyChart>;

/// Who a section is for. A long report (the self-test's) has a brief terminal summary and a
/// full version for a ticket; RenderOptions::brief picks one, `All` sections are in both.
enum class Audience {
    All,
    Brief,  // only in the brief render (the terminal summary)
    Detail, // only in the full render (report.md, --report FORMAT=FILE)
};

/// A part of the document.
struct Section {
    std::vector<Block> blocks;
    Audience audience = Audience::All;
};

/// One test case for CI (JUnit): a question, a case on a target, a check.
struct TestCase {
    std::string classname;
    std::string name;
    struct Failure {
        std::string message; // one line
        std::string text;    // the full explanation
    };
    std::optional<Failure> failure;
    /// The case's badges for the verdict table at the top of an HTML report: its verdict
    /// first ("identical", "pass" ...), then what the answer was (Blocked). Empty: Pass, or
    /// Fail when `failure` is set (badges_of).
    std::vector<Badge> badges;
    std::string summary; // one line beside the badges: the verdict detail, the reason
};
/// A case's badges: `badges`, or Pass/Fail from `failure` when it has none.
std::vector<Badge> badges_of(const TestCase& c);

struct Document {
    std::string title; // "dnslab-probe", "dnslab self-test report", ...
    std::string suite; // the JUnit testsuite name
    std::vector<Section> sections;
    std::vector<TestCase> cases;
    /// The document's verdict in one line ("3 questions: 2 identical, 1 differ", "Verdict:
    /// OK"): HTML puts it at the top. Subcommands also end their text with it.
    Spans headline;
    /// The machine document (`--json`): a versioned schema of its own (dnslab.probe.v1 ...),
    /// built by the subcommand from its results, because its fields are a contract.
    nlohmann::json machine = nlohmann::json::object();
    int exit_code = 0;

    /// Appends a section and returns it, for building documents block by block.
    Section& add_section(Audience audience = Audience::All) {
        sections.push_back(Section{{}, audience});
        return sections.back();
    }
};

/// Shorthands for building blocks.
inline Span plain(std::string s) {
    return Span{std::move(s), Tone::Plain};
}
inline Span toned(std::string s, Tone t) {
    return Span{std::move(s), t};
}
inline Line line(Spans spans, int indent = 0) {
    return Line{indent, std::move(spans)};
}
inline Line line(std::string text, int indent = 0) {
    return Line{indent, {plain(std::move(text))}};
}

/// A badge's span: `text` (default: the badge's name) in the badge's tone.
Span badge_span(Badge b, std::string text = {});

/// The plain text of spans, without any styling.
std::string text_of(const Spans& spans);

/// Nearest-rank percentile of `values` (0 when empty); `p` in [0, 100].
double percentile(std::vector<double> values, double p);

} // namespace probes::report
