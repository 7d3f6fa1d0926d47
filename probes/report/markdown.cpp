// SPDX-License-Identifier: MIT
// Markdown (CommonMark with GitHub tables) for tickets and wiki pages.
#include <sstream>

#include "probes/report/formats.hpp"

namespace probes::report {
namespace {

// Table cells must not contain pipes or newlines.
std::string cell_escape(const std::string& s) {
    std::string out;
    for (char c : s) {
        if (c == '|') {
            out += "\\|";
        } else if (c == '\n') {
            out += ' ';
        } else {
            out += c;
        }
    }
    return out;
}

std::string spans_md(const Spans& spans, bool in_table) {
    std::string out;
    for (const auto& s : spans) {
        std::string t = in_table ? cell_escape(s.text) : s.text;
        if (t.empty()) {
            continue;
        }
        switch (s.tone) {
        case Tone::Code:
            out += "`" + t + "`";
            break;
        case Tone::Strong:
            out += "**" + t + "**";
            break;
        default:
            out += t;
        }
    }
    return out;
}

// Writes blocks, keeping exactly one blank line between paragraphs, lists, tables and code.
class Writer {
public:
    void paragraph(const std::string& text) {
        end_list();
        gap();
        out_ << text << "\n";
        open_ = true;
    }
    void list_item(int indent, const std::string& text) {
        // Nesting follows the indents seen since the list began, one level at a time, so
        // a jump from 0 to 6 spaces is a sub-item, not a code block.
        while (!indents_.empty() && indents_.back() > indent) {
            indents_.pop_back();
        }
        if (indents_.empty() || indents_.back() < indent) {
            if (indents_.empty()) {
                gap();
            }
            indents_.push_back(indent);
        }
        out_ << std::string(2 * (indents_.size() - 1), ' ') << "- " << text << "\n";
        open_ = true;
    }
    void block(const std::string& text) {
        end_list();
        gap();
        out_ << text;
        open_ = true;
    }
    void blank() {
        end_list();
        gap();
    }
    // The text, ending in exactly one newline.
    std::string str() const {
        std::string s = out_.str();
        while (s.size() >= 2 && s[s.size() - 1] == '\n' && s[s.size() - 2] == '\n') {
            s.pop_back();
        }
        return s;
    }

private:
    void end_list() {
        if (!indents_.empty()) {
            indents_.clear();
            gap();
        }
    }
    void gap() {
        if (open_) {
            out_ << "\n";
            open_ = false;
        }
    }
    std::ostringstream out_;
    std::vector<int> indents_;
    bool open_ = false; // text was written since the last blank line
};

std::string table_md(const Table& t) {
    std::ostringstream out;
    out << "|";
    for (const auto& c : t.columns) {
        out << " " << cell_escape(c.name) << " |";
    }
    out << "\n|";
    for (const auto& c : t.columns) {
        out << (c.align == Table::Align::Right ? "---:|" : "---|");
    }
    out << "\n";
    for (const auto& row : t.rows) {
        out << "|";
        for (std::size_t c = 0; c < t.columns.size(); ++c) {
            out << " " << (c < row.size() ? spans_md(row[c], true) : "") << " |";
        }
        out << "\n";
    }
    return out.str();
}

} // namespace

std::string render_markdown(const Document& doc, const RenderOptions& opts) {
    Writer w;
    if (!doc.title.empty()) {
        w.paragraph("# " + doc.title);
    }
    for (const auto& section : doc.sections) {
        if (!shown(section, opts)) {
            continue;
        }
        for (const auto& block : section.blocks) {
            if (const auto* h = std::get_if<Heading>(&block)) {
                w.paragraph(std::string(static_cast<std::size_t>(std::max(1, h->level)), '#') +
                            " " + spans_md(h->spans, false));
                w.blank();
            } else if (const auto* l = std::get_if<Line>(&block)) {
                if (l->indent == 0) {
                    w.paragraph(spans_md(l->spans, false));
                    w.blank();
                } else {
                    w.list_item(l->indent, spans_md(l->spans, false));
                }
            } else if (const auto* p = std::get_if<Preformatted>(&block)) {
                std::string code = "```" + p->language + "\n";
                for (const auto& text : p->lines) {
                    code += text + "\n";
                }
                w.block(code + "```\n");
            } else if (const auto* t = std::get_if<Table>(&block)) {
                w.block(table_md(*t));
            } else if (std::holds_alternative<Break>(block)) {
                w.blank();
            }
        }
    }
    return w.str();
}

} // namespace probes::report
