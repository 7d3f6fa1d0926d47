// SPDX-License-Identifier: MIT
#include "resolver/app/cli_doc.hpp"

#include <iostream>
#include <sstream>
#include <string_view>

namespace resolver::app {
namespace {

// Hidden options have an empty group (CLI11's convention); --help leaves them out.
bool visible(const CLI::Option* o) {
    return !o->get_group().empty();
}

bool takes_value(const CLI::Option* o) {
    return o->get_type_size() != 0;
}

std::vector<const CLI::App*> subcommands_of(const CLI::App& app) {
    // Unnamed "subcommands" are CLI11 option groups, not commands.
    return app.get_subcommands([](const CLI::App* s) { return !s->get_name().empty(); });
}

std::vector<const CLI::Option*> options_of(const CLI::App& app) {
    return app.get_options([](const CLI::Option* o) { return visible(o); });
}

// A '-' that starts a word is an option dash: \- keeps it an ASCII hyphen-minus in every
// output device (groff_man(7) "Portability"); hyphens inside words stay hyphens.
std::string roff_escape(std::string_view s) {
    std::string out;
    char before = ' ';
    for (const char c : s) {
        if (c == '\\') {
            out += "\\e";
        } else if (c == '-' && std::string_view(" \t([,/\"'=-").find(before) != std::string::npos) {
            out += "\\-";
        } else {
            out += c;
        }
        before = c;
    }
    return out;
}

// A text line that starts with '.' or '\'' would be read as a request.
std::string roff_line(std::string_view s) {
    std::string out = roff_escape(s);
    if (!out.empty() && (out.front() == '.' || out.front() == '\'')) {
        out.insert(0, "\\&");
    }
    return out;
}

// Plain text to roff: blank lines start paragraphs, lines indented by two spaces are kept
// as written (examples).
std::string roff_text(const std::string& text) {
    std::ostringstream out;
    std::istringstream in(text);
    std::string line;
    bool verbatim = false;
    bool first = true;
    while (std::getline(in, line)) {
        const bool indented = line.rfind("  ", 0) == 0;
        if (verbatim && !indented) {
            out << ".fi\n.RE\n";
            verbatim = false;
        }
        if (line.find_first_not_of(' ') == std::string::npos) {
            if (!first) {
                out << ".PP\n";
            }
            continue;
        }
        if (indented && !verbatim) {
            out << ".RS\n.nf\n";
            verbatim = true;
        }
        out << roff_line(indented ? line.substr(2) : line) << "\n";
        first = false;
    }
    if (verbatim) {
        out << ".fi\n.RE\n";
    }
    return out.str();
}

// "-t, --target TEXT ..." as --help shows it, without the padding.
std::string option_label(const CLI::Option* o) {
    std::string names = o->nonpositional() ? o->get_name(false, true) : o->get_name(true, false);
    std::string value;
    if (takes_value(o)) {
        if (!o->get_option_text().empty()) {
            value = o->get_option_text();
        } else if (!o->get_type_name().empty()) {
            value = o->get_type_name();
        }
        if (o->get_expected_max() == CLI::detail::expected_max_vector_size) {
            value += " ...";
        }
    }
    std::string out;
    std::string_view rest = names;
    while (!rest.empty()) {
        const auto comma = rest.find(',');
        out += (out.empty() ? "" : ", ") + std::string("\\fB") +
               roff_escape(rest.substr(0, comma)) + "\\fR";
        rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    }
    if (!value.empty() && o->nonpositional()) {
        out += " \\fI" + roff_escape(value) + "\\fR";
    }
    if (o->get_required()) {
        out += " (required)";
    }
    return out;
}

std::string synopsis_of(const CLI::App& app, const std::string& prefix) {
    std::string s = ".B " + roff_escape(prefix) + "\n[\\fIOPTIONS\\fR]";
    for (const auto* o : app.get_options()) {
        if (visible(o) && !o->nonpositional()) {
            const std::string n = "\\fI" + roff_escape(o->get_name(true, false)) + "\\fR";
            s += " " + (o->get_required() ? n : "[" + n + "]");
        }
    }
    if (!subcommands_of(app).empty()) {
        s += " [\\fICOMMAND\\fR]";
    }
    return s + "\n";
}

void synopsis_all(const CLI::App& app, const std::string& prefix, std::ostringstream& out) {
    out << synopsis_of(app, prefix);
    for (const auto* sub : subcommands_of(app)) {
        out << ".br\n";
        synopsis_all(*sub, prefix + " " + sub->get_name(), out);
    }
}

void options_section(const CLI::App& app, std::ostringstream& out) {
    const auto opts = options_of(app);
    std::vector<std::string> groups;
    for (const auto* o : opts) {
        if (std::find(groups.begin(), groups.end(), o->get_group()) == groups.end()) {
            groups.push_back(o->get_group());
        }
    }
    for (const auto& g : groups) {
        if (groups.size() > 1) {
            out << ".PP\n\\fI" << roff_escape(g) << "\\fR\n";
        }
        for (const auto* o : opts) {
            if (o->get_group() != g) {
                continue;
            }
            out << ".TP\n" << option_label(o) << "\n" << roff_line(o->get_description()) << "\n";
        }
    }
}

void commands_section(const CLI::App& app, const std::string& prefix, std::ostringstream& out) {
    for (const auto* sub : subcommands_of(app)) {
        const std::string path = prefix + " " + sub->get_name();
        out << ".SS \"" << roff_escape(path) << "\"\n" << roff_text(sub->get_description());
        if (!sub->get_footer().empty()) {
            out << ".PP\n" << roff_text(sub->get_footer());
        }
        if (sub->get_fallthrough()) {
            out << ".PP\nThe options of \\fB" << roff_escape(prefix) << "\\fR apply here too.\n";
        }
        options_section(*sub, out);
        commands_section(*sub, path, out);
    }
}

// "dnslab-probe: ask one question ..." -> "ask one question ..." for the NAME line.
std::string summary_of(const CLI::App& app, const std::string& name) {
    std::string d = app.get_description();
    if (d.rfind(name + ": ", 0) == 0) {
        d = d.substr(name.size() + 2);
    }
    if (const auto nl = d.find('\n'); nl != std::string::npos) {
        d.resize(nl);
    }
    while (!d.empty() && d.back() == '.') {
        d.pop_back();
    }
    return d;
}

std::string upper(std::string s) {
    for (auto& c : s) {
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    return s;
}

// ---- bash completion --------------------------------------------------------------------

struct Level {
    std::string path;                // "" for the program, "selftest diff" for a nested one
    std::vector<std::string> words;  // options and subcommand names offered here
    std::vector<std::string> valued; // options after which a value (a file name) follows
    std::vector<std::pair<std::string, std::string>> children; // (name, path)
};

void option_words(const CLI::App& app, Level& l) {
    for (const auto* o : options_of(app)) {
        if (!o->nonpositional()) {
            continue;
        }
        for (const auto& s : o->get_snames()) {
            l.words.push_back("-" + s);
            if (takes_value(o)) {
                l.valued.push_back("-" + s);
            }
        }
        for (const auto& n : o->get_lnames()) {
            l.words.push_back("--" + n);
            if (takes_value(o)) {
                l.valued.push_back("--" + n);
            }
        }
    }
}

void collect_levels(const CLI::App& app, const std::string& path, std::vector<Level>& out) {
    Level l;
    l.path = path;
    // A fallthrough subcommand accepts its parents' options as well.
    for (const CLI::App* a = &app; a != nullptr; a = a->get_parent()) {
        option_words(*a, l);
        if (!a->get_fallthrough()) {
            break;
        }
    }
    for (const auto* sub : subcommands_of(app)) {
        const std::string child = path.empty() ? sub->get_name() : path + " " + sub->get_name();
        l.words.push_back(sub->get_name());
        l.children.emplace_back(sub->get_name(), child);
    }
    out.push_back(l);
    for (const auto* sub : subcommands_of(app)) {
        collect_levels(*sub, path.empty() ? sub->get_name() : path + " " + sub->get_name(), out);
    }
}

std::string join(const std::vector<std::string>& v, const std::string& sep) {
    std::string s;
    for (const auto& x : v) {
        s += (s.empty() ? "" : sep) + x;
    }
    return s;
}

// `"path|--a"|"path|-b"`: case patterns matching an option word at one level.
std::string patterns(const Level& l, const std::vector<std::string>& words) {
    std::vector<std::string> p;
    for (const auto& w : words) {
        p.push_back("\"" + l.path + "|" + w + "\"");
    }
    return join(p, "|");
}

} // namespace

std::string render_man(const CLI::App& app, const ManPage& page) {
    std::ostringstream out;
    out << ".\\\" Generated by `" << page.name
        << " --help-man` from its command-line definitions; do not edit.\n"
        << ".TH \"" << upper(page.name) << "\" \"1\" \"\" \"dnslab " << page.version
        << "\" \"dnslab manual\"\n"
        << ".SH NAME\n"
        << roff_escape(page.name) << " \\- " << roff_escape(summary_of(app, page.name)) << "\n"
        << ".SH SYNOPSIS\n";
    synopsis_all(app, page.name, out);
    out << ".SH DESCRIPTION\n" << roff_text(app.get_description());
    if (!app.get_footer().empty()) {
        out << ".PP\n" << roff_text(app.get_footer());
    }
    out << ".SH OPTIONS\n";
    options_section(app, out);
    if (!subcommands_of(app).empty()) {
        out << ".SH COMMANDS\n";
        commands_section(app, page.name, out);
    }
    for (const auto& [title, text] : page.sections) {
        out << ".SH \"" << roff_escape(upper(title)) << "\"\n" << roff_text(text);
    }
    return out.str();
}

std::string render_bash_completion(const CLI::App& app, const std::string& program) {
    std::vector<Level> levels;
    collect_levels(app, "", levels);
    std::string fn = "_" + program;
    for (auto& c : fn) {
        c = c == '-' ? '_' : c;
    }
    std::ostringstream out;
    out << "# bash completion for " << program << ": generated by `" << program
        << " --help-bash-completion`\n# from its command-line definitions; do not edit.\n"
        << fn << "() {\n"
        << "    local cur=\"${COMP_WORDS[COMP_CWORD]}\" prev=\"${COMP_WORDS[COMP_CWORD-1]}\"\n"
        << "    local path=\"\" skip=0 i w\n"
        << "    for ((i = 1; i < COMP_CWORD; i++)); do\n"
        << "        w=\"${COMP_WORDS[i]}\"\n"
        << "        if [[ $skip == 1 ]]; then skip=0; continue; fi\n"
        << "        case \"$path|$w\" in\n";
    for (const auto& l : levels) {
        for (const auto& [name, child] : l.children) {
            out << "            \"" << l.path << "|" << name << "\") path=\"" << child << "\" ;;\n";
        }
        if (!l.valued.empty()) {
            out << "            " << patterns(l, l.valued) << ") skip=1 ;;\n";
        }
    }
    out << "        esac\n    done\n    case \"$path|$prev\" in\n";
    for (const auto& l : levels) {
        if (!l.valued.empty()) {
            out << "        " << patterns(l, l.valued)
                << ")\n            compopt -o filenames 2>/dev/null\n"
                << "            COMPREPLY=($(compgen -f -- \"$cur\"))\n            return ;;\n";
        }
    }
    out << "    esac\n    local words=\"\"\n    case \"$path\" in\n";
    for (const auto& l : levels) {
        out << "        \"" << l.path << "\") words=\"" << join(l.words, " ") << "\" ;;\n";
    }
    out << "    esac\n    COMPREPLY=($(compgen -W \"$words\" -- \"$cur\"))\n}\n"
        << "complete -F " << fn << " " << program << "\n";
    return out.str();
}

void add_doc_flags(CLI::App& app, ManPage page) {
    CLI::App* a = &app;
    app.add_flag_callback(
           "--help-man",
           [a, page] {
               std::cout << render_man(*a, page);
               throw CLI::Success();
           },
           "Print the man page (roff) and exit")
        ->group("");
    const std::string program = page.name;
    app.add_flag_callback(
           "--help-bash-completion",
           [a, program] {
               std::cout << render_bash_completion(*a, program);
               throw CLI::Success();
           },
           "Print the bash completion script and exit")
        ->group("");
}

} // namespace resolver::app
