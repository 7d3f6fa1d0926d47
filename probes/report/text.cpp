// SPDX-License-Identifier: MIT
// The terminal renderer: what dnslab-probe prints without --json.
#include <algorithm>
#include <sstream>

#include "probes/report/formats.hpp"

namespace probes::report {
namespace {

const char* ansi(Tone t) {
    switch (t) {
    case Tone::Good:
        return "32";
    case Tone::Bad:
        return "31";
    case Tone::Warn:
        return "33";
    case Tone::Strong:
        return "1";
    case Tone::Muted:
        return "2";
    case Tone::Plain:
    case Tone::Code:
        return nullptr;
    }
    return nullptr;
}

std::string spans_text(const Spans& spans, bool color) {
    std::string out;
    for (const auto& s : spans) {
        const char* code = color ? ansi(s.tone) : nullptr;
        out += code != nullptr ? std::string("\033[") + code + "m" + s.text + "\033[0m" : s.text;
    }
    return out;
}

void table(std::ostream& out, const Table& t, bool color) {
    const std::string pad(static_cast<std::size_t>(t.indent), ' ');
    std::vector<std::size_t> width(t.columns.size(), 0);
    for (std::size_t c = 0; c < t.columns.size(); ++c) {
        width[c] = t.columns[c].name.size();
    }
    for (const auto& row : t.rows) {
        for (std::size_t c = 0; c < row.size() && c < width.size(); ++c) {
            width[c] = std::max(width[c], text_of(row[c]).size());
        }
    }
    auto cell = [&](std::size_t c, const std::string& plain_text, const std::string& shown) {
        const std::string fill(width[c] - std::min(width[c], plain_text.size()), ' ');
        const bool last = c + 1 == t.columns.size();
        if (t.columns[c].align == Table::Align::Right) {
            return fill + shown;
        }
        return last ? shown : shown + fill;
    };
    const bool header = std::any_of(t.columns.begin(), t.columns.end(),
                                    [](const Table::Column& c) { return !c.name.empty(); });
    if (header) {
        std::string l = pad;
        for (std::size_t c = 0; c < t.columns.size(); ++c) {
            l += (c == 0 ? "" : "  ") + cell(c, t.columns[c].name, t.columns[c].name);
        }
        while (!l.empty() && l.back() == ' ') {
            l.pop_back();
        }
        out << l << "\n";
    }
    for (const auto& row : t.rows) {
        std::string l = pad;
        for (std::size_t c = 0; c < t.columns.size(); ++c) {
            const Spans empty;
            const Spans& s = c < row.size() ? row[c] : empty;
            l += (c == 0 ? "" : "  ") + cell(c, text_of(s), spans_text(s, color));
        }
        while (!l.empty() && l.back() == ' ') {
            l.pop_back();
        }
        out << l << "\n";
    }
}

} // namespace

std::string render_text(const Document& doc, const RenderOptions& opts) {
    std::ostringstream out;
    for (const auto& section : doc.sections) {
        if (!shown(section, opts)) {
            continue;
        }
        for (const auto& block : section.blocks) {
            if (const auto* h = std::get_if<Heading>(&block)) {
                out << spans_text(h->spans, opts.color) << "\n";
            } else if (const auto* l = std::get_if<Line>(&block)) {
                out << std::string(static_cast<std::size_t>(l->indent), ' ')
                    << spans_text(l->spans, opts.color) << "\n";
            } else if (const auto* p = std::get_if<Preformatted>(&block)) {
                for (const auto& text : p->lines) {
                    out << std::string(static_cast<std::size_t>(p->indent), ' ') << p->gutter
                        << text << "\n";
                }
            } else if (const auto* t = std::get_if<Table>(&block)) {
                table(out, *t, opts.color);
            } else if (std::holds_alternative<Break>(block)) {
                out << "\n";
            }
        }
    }
    return out.str();
}

} // namespace probes::report
