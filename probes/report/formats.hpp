// SPDX-License-Identifier: MIT
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "probes/report/document.hpp"
#include "resolver/core/result.hpp"

namespace probes::report {

struct RenderOptions {
    bool color = false; // ANSI colours (terminal text only)
    bool brief = false; // the brief render: Brief sections instead of Detail ones
};

/// Whether `s` belongs in a render with `opts`.
inline bool shown(const Section& s, const RenderOptions& opts) {
    return s.audience == Audience::All || (s.audience == Audience::Brief) == opts.brief;
}

/// Renders a whole Document as one format. Pure: no I/O.
using Renderer = std::string (*)(const Document&, const RenderOptions&);

/// One output format. Adding a format (HTML, say): write `render_html` in its own file in
/// this folder, declare it below, add its row to `formats()` in formats.cpp and the file to
/// probes/meson.build. Every subcommand then accepts `--report html=FILE`.
struct Format {
    std::string_view name;        // as given to --report
    std::string_view description; // for --help
    Renderer render;
};

std::string render_text(const Document& doc, const RenderOptions& opts);
std::string render_json(const Document& doc, const RenderOptions& opts);
std::string render_junit(const Document& doc, const RenderOptions& opts);
std::string render_markdown(const Document& doc, const RenderOptions& opts);
std::string render_html(const Document& doc, const RenderOptions& opts);

/// Every format, in the order --help lists them.
const std::vector<Format>& formats();
/// The format called `name`; nullptr when there is none.
const Format* find_format(std::string_view name);
/// "text, json, junit, markdown, html": for help texts and error messages.
std::string format_names();

/// One `--report FORMAT=FILE` request (`FILE` "-" is stdout).
struct OutputRequest {
    std::string format;
    std::string path;
};
/// Parses `FORMAT=FILE` (or `FORMAT` alone: stdout). Unknown formats are an error that lists
/// the known ones.
resolver::Result<OutputRequest> parse_output(std::string_view spec);
/// What a subcommand's output flags ask for, in this order: stdout in `stdout_format` ("text"
/// or "json"), then --junit FILE and --html FILE when given, then each --report spec. The
/// error is the first spec parse_output refuses.
resolver::Result<std::vector<OutputRequest>>
requested_outputs(const std::string& stdout_format, const std::string& junit,
                  const std::string& html, const std::vector<std::string>& reports);

/// Renders `doc` for each request and writes it (stdout for "-"). The error names the file
/// that could not be written; the others are still written.
resolver::Status write_outputs(const Document& doc, const std::vector<OutputRequest>& requests,
                               const RenderOptions& opts);

/// Whether to colour output on `fd`: not with `--no-color`, not when NO_COLOR is set
/// (https://no-color.org), only on a terminal.
bool use_color(bool no_color_flag, int fd);

/// XML attribute and text escaping (JUnit).
std::string xml_escape(const std::string& s);

/// HTML text and attribute escaping for any bytes (names, TXT data and EDE text come from
/// the network): & < > " ' as character references, control characters other than tab and
/// newline as U+FFFD, and every byte that is not part of well-formed UTF-8 as U+FFFD, so the
/// page (declared UTF-8) always parses as what it says.
std::string html_escape(std::string_view s);

} // namespace probes::report
