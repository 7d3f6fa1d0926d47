// SPDX-License-Identifier: MIT
// HTML: one self-contained page for people who would rather look than read. Inline CSS and
// inline SVG only; no scripts and no fetches, which the page's own Content-Security-Policy
// enforces in the browser (https://www.w3.org/TR/CSP3/#directive-default-src). Every string
// goes through html_escape: names, TXT data and EDE text come from the network.
#include <algorithm>
#include <cstdio>
#include <map>
#include <sstream>

#include "probes/report/formats.hpp"

namespace probes::report {
namespace {

// Bytes past the first of a well-formed UTF-8 sequence starting with `lead` (RFC 3629 §4:
// no overlong forms, no surrogates, nothing above U+10FFFF); -1 when `lead` cannot start one.
int utf8_tail(unsigned char lead) {
    if (lead >= 0xC2 && lead <= 0xDF) {
        return 1;
    }
    if (lead >= 0xE0 && lead <= 0xEF) {
        return 2;
    }
    if (lead >= 0xF0 && lead <= 0xF4) {
        return 3;
    }
    return -1;
}

// The range the second byte of a sequence must fall in, which RFC 3629 §4 narrows for
// E0 (overlong), ED (surrogates), F0 (overlong) and F4 (above U+10FFFF).
bool second_ok(unsigned char lead, unsigned char b) {
    switch (lead) {
    case 0xE0:
        return b >= 0xA0 && b <= 0xBF;
    case 0xED:
        return b >= 0x80 && b <= 0x9F;
    case 0xF0:
        return b >= 0x90 && b <= 0xBF;
    case 0xF4:
        return b >= 0x80 && b <= 0x8F;
    default:
        return b >= 0x80 && b <= 0xBF;
    }
}

// The length of the well-formed sequence at s[i], or 0.
std::size_t utf8_sequence(std::string_view s, std::size_t i) {
    const auto lead = static_cast<unsigned char>(s[i]);
    const int tail = utf8_tail(lead);
    if (tail < 0 || s.size() - i <= static_cast<std::size_t>(tail)) {
        return 0;
    }
    for (int k = 1; k <= tail; ++k) {
        const auto b = static_cast<unsigned char>(s[i + static_cast<std::size_t>(k)]);
        if (k == 1 ? !second_ok(lead, b) : (b < 0x80 || b > 0xBF)) {
            return 0;
        }
    }
    return static_cast<std::size_t>(tail) + 1;
}

constexpr const char* kReplacement = "\xEF\xBF\xBD"; // U+FFFD

void escape_ascii(std::string& out, char c) {
    switch (c) {
    case '&':
        out += "&amp;";
        return;
    case '<':
        out += "&lt;";
        return;
    case '>':
        out += "&gt;";
        return;
    case '"':
        out += "&quot;";
        return;
    case '\'':
        out += "&#39;";
        return;
    default:
        break;
    }
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\n' && c != '\t') || u == 0x7F) {
        out += kReplacement;
        return;
    }
    out += c;
}

std::string h(std::string_view s) {
    return html_escape(s);
}

// The CSS class of a badge: one colour per outcome.
const char* badge_class(Badge b) {
    switch (b) {
    case Badge::None:
        return "b-none";
    case Badge::Identical:
        return "b-identical";
    case Badge::Equivalent:
        return "b-equivalent";
    case Badge::Differ:
        return "b-differ";
    case Badge::Blocked:
        return "b-blocked";
    case Badge::AllFailed:
        return "b-all-failed";
    case Badge::Pass:
        return "b-pass";
    case Badge::Fail:
        return "b-fail";
    case Badge::Warn:
        return "b-warn";
    case Badge::Info:
        return "b-info";
    case Badge::Skipped:
        return "b-skipped";
    case Badge::NotApplicable:
        return "b-na";
    }
    return "b-none";
}

constexpr Badge kAllBadges[] = {Badge::Identical, Badge::Equivalent,   Badge::Differ,
                                Badge::Blocked,   Badge::AllFailed,    Badge::Pass,
                                Badge::Fail,      Badge::Warn,         Badge::Info,
                                Badge::Skipped,   Badge::NotApplicable};

constexpr const char* kStyle = R"(
:root{--ink:#1f2328;--muted:#59636e;--line:#d1d9e0;--bg:#ffffff;--panel:#f6f8fa;
--identical:#1a7f37;--equivalent:#0a7d80;--differ:#cf222e;--blocked:#8250df;
--all-failed:#82071e;--pass:#1a7f37;--fail:#cf222e;--warn:#9a6700;--info:#0969da;
--skipped:#6e7781;--na:#6e7781;--connect:#bc4c00;--query:#0969da}
*{box-sizing:border-box}
body{margin:0 auto;max-width:1100px;padding:24px;color:var(--ink);background:var(--bg);
font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif}
h1{font-size:26px;margin:0 0 6px}h2{font-size:20px;margin:28px 0 8px;border-bottom:1px solid var(--line)}
h3{font-size:16px;margin:20px 0 6px}h4{font-size:15px;margin:16px 0 4px}
p{margin:6px 0}ul{margin:4px 0 4px 4px;padding-left:20px}li{margin:2px 0}
code,pre{font:13px/1.4 ui-monospace,"DejaVu Sans Mono",Menlo,Consolas,monospace}
code{background:var(--panel);padding:0 3px;border-radius:3px}
pre{background:var(--panel);border:1px solid var(--line);border-radius:6px;padding:8px 10px;
overflow-x:auto;white-space:pre-wrap;word-break:break-all;margin:6px 0}
table{border-collapse:collapse;margin:8px 0;font-size:14px}
th,td{border:1px solid var(--line);padding:4px 8px;text-align:left;vertical-align:top}
th{background:var(--panel)}td.r,th.r{text-align:right;font-variant-numeric:tabular-nums}
.good{color:var(--pass)}.bad{color:var(--fail);font-weight:600}.warn{color:var(--warn)}
.muted{color:var(--muted)}
.badge{display:inline-block;min-width:4.5em;padding:1px 7px;margin:0 4px 2px 0;border-radius:10px;
color:#fff;font-size:12px;font-weight:600;text-align:center;text-transform:uppercase;
letter-spacing:.03em;white-space:nowrap}
.b-none{background:var(--skipped)}.b-identical{background:var(--identical)}
.b-equivalent{background:var(--equivalent)}.b-differ{background:var(--differ)}
.b-blocked{background:var(--blocked)}.b-all-failed{background:var(--all-failed)}
.b-pass{background:var(--pass)}.b-fail{background:var(--fail)}.b-warn{background:var(--warn)}
.b-info{background:var(--info)}.b-skipped{background:var(--skipped)}.b-na{background:var(--na)}
.headline{font-size:17px;padding:10px 14px;border-radius:6px;border-left:6px solid}
.headline.ok{border-color:var(--pass);background:#dafbe1}
.headline.problem{border-color:var(--fail);background:#ffebe9}
table.verdicts{width:100%}table.verdicts td.v{white-space:nowrap;width:1%}
tr.row-bad td{background:#fff8f7}tr.row-warn td{background:#fff8e5}
figure{margin:10px 0}figcaption{color:var(--muted);font-size:13px}
svg text{font:12px system-ui,"DejaVu Sans",sans-serif;fill:var(--ink)}
svg .axis{stroke:var(--line)}svg .c50{fill:var(--connect)}svg .c95{fill:var(--connect);opacity:.3}
svg .q50{fill:var(--query)}svg .q95{fill:var(--query);opacity:.3}svg .none{fill:var(--muted)}
footer{margin-top:32px;color:var(--muted);font-size:13px;border-top:1px solid var(--line)}
)";

std::string spans_html(const Spans& spans) {
    std::string out;
    for (const auto& s : spans) {
        if (s.badge != Badge::None) {
            // Badges are padded for terminal columns ("N/A "); a pill needs no padding.
            std::string text = s.text;
            while (!text.empty() && text.back() == ' ') {
                text.pop_back();
            }
            out += std::string("<span class=\"badge ") + badge_class(s.badge) + "\">" + h(text) +
                   "</span>";
            continue;
        }
        switch (s.tone) {
        case Tone::Plain:
            out += h(s.text);
            break;
        case Tone::Good:
            out += "<span class=\"good\">" + h(s.text) + "</span>";
            break;
        case Tone::Bad:
            out += "<span class=\"bad\">" + h(s.text) + "</span>";
            break;
        case Tone::Warn:
            out += "<span class=\"warn\">" + h(s.text) + "</span>";
            break;
        case Tone::Strong:
            out += "<strong>" + h(s.text) + "</strong>";
            break;
        case Tone::Muted:
            out += "<span class=\"muted\">" + h(s.text) + "</span>";
            break;
        case Tone::Code:
            out += "<code>" + h(s.text) + "</code>";
            break;
        }
    }
    return out;
}

std::string fmt_ms(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, v < 10 ? "%.2f" : "%.1f", v);
    return buf;
}

std::string fmt_num(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", v);
    return buf;
}

// The smallest 1, 2, 2.5 or 5 times a power of ten that is at least `v` (at least 1 ms), so
// the axis has round ticks. Bounded: a value beyond 10^9 ms (or NaN) gets 10^9.
double nice_ceiling(double v) {
    for (double decade = 1; decade < 1e9; decade *= 10) {
        for (double m : {1.0, 2.0, 2.5, 5.0}) {
            if (decade * m >= v) {
                return decade * m;
            }
        }
    }
    return 1e9;
}

std::string cut(const std::string& s, std::size_t max) {
    if (s.size() <= max) {
        return s;
    }
    std::size_t n = max - 1;
    // Back off to a UTF-8 boundary so the cut never splits a character.
    while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) {
        --n;
    }
    return s.substr(0, n) + "\xE2\x80\xA6"; // U+2026
}

std::string figure_words(const char* what, const LatencyChart::Figure& f) {
    if (f.samples == 0) {
        return std::string(what) + ": none measured";
    }
    return std::string(what) + " p50 " + fmt_ms(f.p50) + " ms, p95 " + fmt_ms(f.p95) + " ms (" +
           std::to_string(f.samples) + (f.samples == 1 ? " sample)" : " samples)");
}

// One bar: the p95 in a light shade behind the p50 in full colour, and the figures after it.
void bar(std::ostream& out, const char* cls, const char* what, const LatencyChart::Figure& f,
         double y, double x0, double width, double scale) {
    constexpr double kHeight = 11;
    if (f.samples == 0) {
        out << "<text class=\"none\" x=\"" << x0 + 4 << "\" y=\"" << y + 9 << "\">" << what
            << ": none measured</text>\n";
        return;
    }
    const double w50 = std::max(1.0, f.p50 / scale * width);
    const double w95 = std::max(w50, f.p95 / scale * width);
    out << "<g><title>" << h(figure_words(what, f)) << "</title>";
    out << "<rect class=\"" << cls << "95\" x=\"" << x0 << "\" y=\"" << y << "\" width=\""
        << fmt_num(w95) << "\" height=\"" << kHeight << "\"/>";
    out << "<rect class=\"" << cls << "50\" x=\"" << x0 << "\" y=\"" << y << "\" width=\""
        << fmt_num(w50) << "\" height=\"" << kHeight << "\"/>";
    out << "<text x=\"" << fmt_num(x0 + w95 + 6) << "\" y=\"" << y + 9 << "\">" << what << " "
        << fmt_ms(f.p50) << " / " << fmt_ms(f.p95) << " ms</text></g>\n";
}

std::string chart_svg(const LatencyChart& c) {
    constexpr double kWidth = 860, kLabel = 230, kValues = 170, kTop = 46, kRow = 40;
    const double x0 = kLabel;
    const double plot = kWidth - kLabel - kValues;
    double top = 0;
    for (const auto& r : c.rows) {
        top = std::max(
            {top, r.connect.samples ? r.connect.p95 : 0.0, r.query.samples ? r.query.p95 : 0.0});
    }
    const double scale = nice_ceiling(top);
    const double height = kTop + kRow * static_cast<double>(c.rows.size()) + 8;
    std::ostringstream out;
    out << "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" width=\"" << kWidth
        << "\" height=\"" << height << "\" viewBox=\"0 0 " << kWidth << " " << height
        << "\" aria-label=\"" << h(c.caption.empty() ? "latency" : c.caption) << "\">\n";
    // Legend: the two measures and the two shades.
    out << "<rect class=\"c50\" x=\"" << x0 << "\" y=\"4\" width=\"12\" height=\"10\"/>"
        << "<text x=\"" << x0 + 16 << "\" y=\"13\">connect</text>"
        << "<rect class=\"q50\" x=\"" << x0 + 80 << "\" y=\"4\" width=\"12\" height=\"10\"/>"
        << "<text x=\"" << x0 + 96 << "\" y=\"13\">query</text>"
        << "<text class=\"none\" x=\"" << x0 + 150
        << "\" y=\"13\">full colour p50, light p95 (ms)</text>\n";
    for (int t = 0; t <= 4; ++t) {
        const double x = x0 + plot * t / 4;
        out << "<line class=\"axis\" x1=\"" << fmt_num(x) << "\" y1=\"" << kTop - 10 << "\" x2=\""
            << fmt_num(x) << "\" y2=\"" << height - 6 << "\"/>"
            << "<text x=\"" << fmt_num(x - 8) << "\" y=\"" << kTop - 14 << "\">"
            << fmt_num(scale * t / 4) << "</text>\n";
    }
    double y = kTop;
    for (const auto& r : c.rows) {
        const std::string label = r.target + (r.transport.empty() ? "" : " (" + r.transport + ")");
        out << "<text x=\"0\" y=\"" << y + 15 << "\"><title>" << h(label) << "</title>"
            << h(cut(label, 34)) << "</text>\n";
        bar(out, "c", "connect", r.connect, y, x0, plot, scale);
        bar(out, "q", "query", r.query, y + 14, x0, plot, scale);
        y += kRow;
    }
    out << "</svg>";
    return out.str();
}

// Writes body blocks, turning indented lines into nested lists (as the Markdown renderer
// does) and keeping records and tables inside the list item they belong to.
class Writer {
public:
    explicit Writer(std::ostringstream& out) : out_(out) {}
    void paragraph(const std::string& html, const char* tag = "p") {
        end_list();
        out_ << "<" << tag << ">" << html << "</" << tag << ">\n";
    }
    void item(int indent, const std::string& html) {
        while (!indents_.empty() && indents_.back() > indent) {
            out_ << "</li></ul>\n";
            indents_.pop_back();
        }
        if (indents_.empty() || indents_.back() < indent) {
            out_ << "<ul>";
            indents_.push_back(indent);
        } else {
            out_ << "</li>\n";
        }
        out_ << "<li>" << html;
    }
    // A block (records, a table, a chart) under the list item it is indented beneath.
    void block(int indent, const std::string& html) {
        while (!indents_.empty() && (indent == 0 || indents_.back() > indent)) {
            out_ << "</li></ul>\n";
            indents_.pop_back();
        }
        out_ << html << "\n";
    }
    void end_list() { block(0, ""); }

private:
    std::ostringstream& out_;
    std::vector<int> indents_;
};

std::string table_html(const Table& t) {
    std::ostringstream out;
    out << "<table>";
    const bool header = std::any_of(t.columns.begin(), t.columns.end(),
                                    [](const Table::Column& c) { return !c.name.empty(); });
    auto cls = [&](std::size_t c) {
        return c < t.columns.size() && t.columns[c].align == Table::Align::Right ? " class=\"r\""
                                                                                 : "";
    };
    if (header) {
        out << "<thead><tr>";
        for (std::size_t c = 0; c < t.columns.size(); ++c) {
            out << "<th" << cls(c) << ">" << h(t.columns[c].name) << "</th>";
        }
        out << "</tr></thead>";
    }
    out << "<tbody>\n";
    for (const auto& row : t.rows) {
        out << "<tr>";
        for (std::size_t c = 0; c < t.columns.size(); ++c) {
            out << "<td" << cls(c) << ">" << (c < row.size() ? spans_html(row[c]) : "") << "</td>";
        }
        out << "</tr>\n";
    }
    out << "</tbody></table>";
    return out.str();
}

std::string pre_html(const Preformatted& p) {
    std::string out = "<pre";
    if (!p.language.empty()) {
        out += " class=\"lang-" + h(p.language) + "\"";
    }
    out += ">";
    for (std::size_t i = 0; i < p.lines.size(); ++i) {
        out += (i == 0 ? "" : "\n") + h(p.lines[i]);
    }
    return out + "</pre>";
}

void body(std::ostringstream& out, const Document& doc, const RenderOptions& opts) {
    Writer w(out);
    for (const auto& section : doc.sections) {
        if (!shown(section, opts)) {
            continue;
        }
        for (const auto& block : section.blocks) {
            if (const auto* hd = std::get_if<Heading>(&block)) {
                // h1 is the page's title.
                const int level = std::clamp(hd->level, 2, 4);
                const std::string tag = "h" + std::to_string(level);
                w.paragraph(spans_html(hd->spans), tag.c_str());
            } else if (const auto* l = std::get_if<Line>(&block)) {
                if (l->indent == 0) {
                    w.paragraph(spans_html(l->spans));
                } else {
                    w.item(l->indent, spans_html(l->spans));
                }
            } else if (const auto* p = std::get_if<Preformatted>(&block)) {
                w.block(p->indent, pre_html(*p));
            } else if (const auto* t = std::get_if<Table>(&block)) {
                w.block(t->indent, table_html(*t));
            } else if (const auto* c = std::get_if<LatencyChart>(&block)) {
                w.block(0, "<figure class=\"chart\">" + chart_svg(*c) + "<figcaption>" +
                               h(c->caption) + "</figcaption></figure>");
            } else if (std::holds_alternative<Break>(block)) {
                w.end_list();
            }
        }
    }
    w.end_list();
}

constexpr std::size_t kListedCases = 500; // beyond this, only the cases worth a look

// The row's shade: the worst tone among the case's badges ("bad", "warn" or "plain").
const char* row_class(const TestCase& c) {
    const auto badges = badges_of(c);
    auto any = [&](Tone t) {
        return std::any_of(badges.begin(), badges.end(),
                           [t](Badge b) { return badge_tone(b) == t; });
    };
    return c.failure || any(Tone::Bad) ? "row-bad" : any(Tone::Warn) ? "row-warn" : "row-plain";
}

// A case worth a look: failed, or a badge that is bad or a warning (blocked included).
bool worth_a_look(const TestCase& c) {
    return std::string_view(row_class(c)) != "row-plain";
}

// "dnslab-selftest.tls" in suite "dnslab-selftest" is "tls": the suite says the rest.
std::string group_of(const Document& doc, const TestCase& c) {
    const std::string prefix = doc.suite + ".";
    return c.classname.rfind(prefix, 0) == 0 ? c.classname.substr(prefix.size()) : c.classname;
}

void verdicts(std::ostringstream& out, const Document& doc) {
    if (doc.cases.empty()) {
        return;
    }
    std::map<Badge, std::size_t> tally;
    for (const auto& c : doc.cases) {
        for (auto b : badges_of(c)) {
            ++tally[b];
        }
    }
    out << "<section id=\"verdicts\">\n<h2>Verdicts</h2>\n<p class=\"tally\">";
    for (auto b : kAllBadges) {
        if (tally.count(b) != 0U) {
            out << "<span class=\"badge " << badge_class(b) << "\">" << tally[b] << " "
                << badge_name(b) << "</span>";
        }
    }
    out << "</p>\n";
    const bool groups = std::any_of(doc.cases.begin(), doc.cases.end(), [&](const TestCase& c) {
        return group_of(doc, c) != group_of(doc, doc.cases.front());
    });
    const bool all = doc.cases.size() <= kListedCases;
    out << "<table class=\"verdicts\"><thead><tr><th>verdict</th>"
        << (groups ? "<th>group</th>" : "") << "<th>name</th><th>detail</th></tr></thead><tbody>\n";
    std::size_t listed = 0;
    for (const auto& c : doc.cases) {
        if ((!all && !worth_a_look(c)) || listed == kListedCases) {
            continue;
        }
        ++listed;
        out << "<tr class=\"" << row_class(c) << "\"><td class=\"v\">";
        for (auto b : badges_of(c)) {
            out << "<span class=\"badge " << badge_class(b) << "\">" << badge_name(b) << "</span>";
        }
        out << "</td>";
        if (groups) {
            out << "<td><code>" << h(group_of(doc, c)) << "</code></td>";
        }
        std::string detail = c.summary;
        if (detail.empty() && c.failure) {
            detail = c.failure->message;
        }
        out << "<td>" << h(c.name) << "</td><td>" << h(detail) << "</td></tr>\n";
    }
    out << "</tbody></table>\n";
    if (listed < doc.cases.size()) {
        out << "<p class=\"muted\">" << doc.cases.size() - listed << " more not listed"
            << (all ? "" : " (only the ones worth a look are)") << "; the JSON report has all "
            << doc.cases.size() << ".</p>\n";
    }
    out << "</section>\n";
}

} // namespace

std::string html_escape(std::string_view s) {
    std::string out;
    out.reserve(s.size() + s.size() / 8);
    std::size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x80) {
            escape_ascii(out, s[i]);
            ++i;
            continue;
        }
        const auto n = utf8_sequence(s, i);
        if (n == 0) {
            out += kReplacement;
            ++i;
            continue;
        }
        out.append(s.substr(i, n));
        i += n;
    }
    return out;
}

std::string render_html(const Document& doc, const RenderOptions& opts) {
    std::ostringstream out;
    const std::string title = doc.title.empty() ? "dnslab report" : doc.title;
    out << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        << "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
           "style-src 'unsafe-inline'\">\n"
        << "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        << "<meta name=\"generator\" content=\"dnslab-probe\">\n"
        << "<title>" << h(title) << "</title>\n<style>" << kStyle << "</style>\n</head>\n<body>\n"
        << "<header>\n<h1>" << h(title) << "</h1>\n";
    const bool ok = doc.exit_code == 0;
    Spans headline = doc.headline;
    if (headline.empty()) {
        headline.push_back(plain(ok ? "OK" : "problems found"));
    }
    out << "<p class=\"headline " << (ok ? "ok" : "problem") << "\" id=\"headline\">"
        << spans_html(headline) << "</p>\n</header>\n";
    verdicts(out, doc);
    out << "<main>\n";
    body(out, doc, opts);
    out << "</main>\n<footer>\n<p>";
    for (auto b : kAllBadges) {
        out << "<span class=\"badge " << badge_class(b) << "\">" << badge_name(b) << "</span>";
    }
    out << "</p>\n<p>This page is self-contained: it loads nothing and runs no scripts.</p>\n"
        << "</footer>\n</body>\n</html>\n";
    return out.str();
}

} // namespace probes::report
