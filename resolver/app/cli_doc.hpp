// SPDX-License-Identifier: MIT
#pragma once
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

namespace resolver::app {

/// What a man page needs beyond the command-line definitions themselves.
struct ManPage {
    std::string name;    // "dnslab-probe": the .TH title and the program in SYNOPSIS
    std::string version; // "0.1.0"
    /// Sections after OPTIONS and COMMANDS, in order: {"EXIT STATUS", text}, {"SEE ALSO", ...}.
    /// Plain text: a blank line starts a paragraph, a line starting with two spaces is kept
    /// as written (examples).
    std::vector<std::pair<std::string, std::string>> sections;
};

/// The man page (roff, man(7) macros) of `app`: NAME from its description, SYNOPSIS, the
/// description and footer, every visible option by group, then every subcommand (nested
/// ones too) with its description, footer and options. Hidden options (empty group) are
/// left out, as --help leaves them out. Deterministic: no date, so builds are reproducible.
std::string render_man(const CLI::App& app, const ManPage& page);

/// A bash completion script for `program`: subcommands and options per subcommand (a
/// fallthrough subcommand also offers its parent's options), file names after an option
/// that takes a value. Needs nothing from the bash-completion package.
std::string render_bash_completion(const CLI::App& app, const std::string& program);

/// Adds the hidden flags `--help-man` and `--help-bash-completion`, which print the above
/// for the fully built `app` and exit 0 (CLI::Success). Call it after every option and
/// subcommand is defined; the build turns their output into the installed files, so the man
/// page and the completion cannot drift from the binary.
void add_doc_flags(CLI::App& app, ManPage page);

} // namespace resolver::app
