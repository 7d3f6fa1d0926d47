// SPDX-License-Identifier: MIT
#include "probes/report/formats.hpp"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iostream>

namespace probes::report {

std::string text_of(const Spans& spans) {
    std::string out;
    for (const auto& s : spans) {
        out += s.text;
    }
    return out;
}

const char* badge_name(Badge b) {
    switch (b) {
    case Badge::None:
        return "";
    case Badge::Identical:
        return "identical";
    case Badge::Equivalent:
        return "equivalent";
    case Badge::Differ:
        return "differ";
    case Badge::Blocked:
        return "blocked";
    case Badge::AllFailed:
        return "all-failed";
    case Badge::Pass:
        return "pass";
    case Badge::Fail:
        return "fail";
    case Badge::Warn:
        return "warn";
    case Badge::Info:
        return "info";
    case Badge::Skipped:
        return "skipped";
    case Badge::NotApplicable:
        return "n/a";
    }
    return "";
}

Tone badge_tone(Badge b) {
    switch (b) {
    case Badge::Identical:
    case Badge::Equivalent:
    case Badge::Pass:
        return Tone::Good;
    case Badge::Differ:
    case Badge::AllFailed:
    case Badge::Fail:
        return Tone::Bad;
    case Badge::Blocked:
    case Badge::Warn:
        return Tone::Warn;
    case Badge::None:
        return Tone::Plain;
    case Badge::Info:
    case Badge::Skipped:
    case Badge::NotApplicable:
        return Tone::Muted;
    }
    return Tone::Plain;
}

Span badge_span(Badge b, std::string text) {
    if (text.empty()) {
        text = badge_name(b);
    }
    return Span{std::move(text), badge_tone(b), b};
}

std::vector<Badge> badges_of(const TestCase& c) {
    if (!c.badges.empty()) {
        return c.badges;
    }
    return {c.failure ? Badge::Fail : Badge::Pass};
}

const std::vector<Format>& formats() {
    // A constant table rather than self-registering renderers: no mutable global, and a
    // static library would drop a renderer object file nothing refers to.
    static const std::vector<Format> kFormats{
        {"text", "the terminal report (what is printed without --json)", &render_text},
        {"json", "the machine document of the subcommand (its versioned schema)", &render_json},
        {"junit", "JUnit XML for CI: one test case per question, case or check", &render_junit},
        {"markdown", "Markdown for a ticket or a wiki page", &render_markdown},
        {"html", "one self-contained HTML page (inline CSS and SVG, no scripts, no fetches)",
         &render_html},
    };
    return kFormats;
}

const Format* find_format(std::string_view name) {
    for (const auto& f : formats()) {
        if (f.name == name) {
            return &f;
        }
    }
    return nullptr;
}

std::string format_names() {
    std::string out;
    for (const auto& f : formats()) {
        out += (out.empty() ? "" : ", ") + std::string(f.name);
    }
    return out;
}

resolver::Result<OutputRequest> parse_output(std::string_view spec) {
    const auto eq = spec.find('=');
    OutputRequest r{std::string(spec.substr(0, eq)),
                    eq == std::string_view::npos ? "-" : std::string(spec.substr(eq + 1))};
    if (find_format(r.format) == nullptr) {
        return resolver::fail(resolver::Errc::ConfigInvalid,
                              "unknown report format '" + r.format + "' (" + format_names() + ")");
    }
    if (r.path.empty()) {
        return resolver::fail(resolver::Errc::ConfigInvalid,
                              "--report " + std::string(spec) + ": no file after '='");
    }
    return r;
}

resolver::Result<std::vector<OutputRequest>>
requested_outputs(const std::string& stdout_format, const std::string& junit,
                  const std::string& html, const std::vector<std::string>& reports) {
    std::vector<OutputRequest> outputs{{stdout_format, "-"}};
    if (!junit.empty()) {
        outputs.push_back({"junit", junit});
    }
    if (!html.empty()) {
        outputs.push_back({"html", html});
    }
    for (const auto& spec : reports) {
        auto r = parse_output(spec);
        if (!r) {
            return r.error();
        }
        outputs.push_back(*r);
    }
    return outputs;
}

resolver::Status write_outputs(const Document& doc, const std::vector<OutputRequest>& requests,
                               const RenderOptions& opts) {
    resolver::Status status = resolver::ok();
    for (const auto& r : requests) {
        const Format* f = find_format(r.format);
        if (f == nullptr) {
            status = resolver::fail(resolver::Errc::ConfigInvalid,
                                    "unknown report format '" + r.format + "'");
            continue;
        }
        // Colour only ever goes to the terminal, never into a file.
        RenderOptions o = opts;
        o.color = o.color && r.path == "-";
        const std::string text = f->render(doc, o);
        if (r.path == "-") {
            std::cout << text << std::flush;
            continue;
        }
        std::ofstream out(r.path, std::ios::binary | std::ios::trunc);
        out << text;
        out.close();
        if (!out) {
            status = resolver::fail(resolver::Errc::ConfigInvalid, "cannot write " + r.path);
        }
    }
    return status;
}

bool use_color(bool no_color_flag, int fd) {
    const char* no_color = std::getenv("NO_COLOR"); // https://no-color.org: any non-empty value
    return !no_color_flag && (no_color == nullptr || *no_color == '\0') && isatty(fd) != 0;
}

std::string xml_escape(const std::string& s) {
    std::string out;
    for (char c : s) {
        switch (c) {
        case '&':
            out += "&amp;";
            break;
        case '<':
            out += "&lt;";
            break;
        case '>':
            out += "&gt;";
            break;
        case '"':
            out += "&quot;";
            break;
        default:
            // Control characters are not allowed in XML 1.0.
            out += (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t') ? '?' : c;
        }
    }
    return out;
}

} // namespace probes::report
