// SPDX-License-Identifier: MIT
#pragma once
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

struct Span {
    std::string text;
    Tone tone = Tone::Plain;
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

using Block = std::variant<Heading, Line, Preformatted, Table, Break>;

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
};

struct Document {
    std::string title; // "dnslab-probe", "dnslab self-test report", ...
    std::string suite; // the JUnit testsuite name
    std::vector<Section> sections;
    std::vector<TestCase> cases;
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

/// The plain text of spans, without any styling.
std::string text_of(const Spans& spans);

} // namespace probes::report
