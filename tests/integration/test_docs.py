# SPDX-License-Identifier: MIT
"""Man pages and bash completions generated from the binaries' CLI definitions: every flag and
subcommand that --help lists (at every level) is in the man page and offered by the completion,
and groff formats the pages without a warning. Reads the files the build generated
(packaging/meson.build), i.e. what meson install ships."""
import os
import re
import subprocess
import unittest

import harness

PACKAGING = os.path.join(harness.BUILD, "packaging")
PROGRAMS = {"dnslab-resolver": harness.RESOLVER, "dnslab-probe": harness.PROBE}
FLAG = re.compile(r"(?<![\w-])(--?[A-Za-z0-9][\w-]*)")


def help_text(binary, path):
    p = subprocess.run([binary, *path, "--help"], capture_output=True, text=True, timeout=20)
    assert p.returncode == 0, (path, p.stdout, p.stderr)
    return p.stdout


def parse_help(text):
    """(flags, subcommands) that one --help page lists."""
    flags, subs = set(), []
    section = None
    for line in text.splitlines():
        if line and not line.startswith(" "):
            section = "subcommands" if line.startswith("Subcommands:") else "other"
            continue
        m = re.match(r"^  (\S.*?)(?:\s{2,}|$)", line)
        if not m:
            continue
        if section == "subcommands":
            subs.append(m.group(1).split()[0])
        elif m.group(1).startswith("-"):
            # The name column only: "-t,--target TEXT ..." -> -t, --target
            names = m.group(1).split(" ")[0]
            flags.update(FLAG.findall(names))
    return flags, subs


def levels(binary, path=()):
    """Every subcommand path with the flags its --help lists."""
    flags, subs = parse_help(help_text(binary, list(path)))
    out = {path: flags}
    for s in subs:
        out.update(levels(binary, path + (s,)))
    return out


def unroff(text):
    return text.replace("\\-", "-").replace("\\fB", "").replace("\\fI", "").replace("\\fR", "")


def complete(program, words):
    """What the generated completion offers for the command line `words` (last one = cursor)."""
    script = os.path.join(PACKAGING, program)
    fn = "_" + program.replace("-", "_")
    quoted = " ".join("'" + w + "'" for w in [program, *words])
    cmd = f"source '{script}'; COMP_WORDS=({quoted}); COMP_CWORD={len(words)}; {fn}; " \
          "printf '%s\\n' \"${COMPREPLY[@]}\""
    p = subprocess.run(["bash", "--norc", "-c", cmd], capture_output=True, text=True, timeout=20)
    assert p.returncode == 0, p.stderr
    return set(p.stdout.split())


class DocsTest(unittest.TestCase):
    def test_every_flag_and_subcommand_is_in_the_man_page(self):
        for program, binary in PROGRAMS.items():
            with open(os.path.join(PACKAGING, program + ".1")) as f:
                page = unroff(f.read())
            found = levels(binary)
            self.assertGreater(len(found[()]), 5, program)
            for path, flags in found.items():
                if path:
                    heading = '.SS "' + " ".join((program,) + path) + '"'
                    self.assertIn(heading, page, f"{program}: no section for {path}")
                for flag in flags:
                    pattern = r"(?<![\w-])" + re.escape(flag) + r"(?![\w-])"
                    self.assertTrue(re.search(pattern, page),
                                    f"{program} {' '.join(path)}: {flag} missing from the man page")
            # The hidden generator flags stay out of --help and out of the page.
            body = "\n".join(l for l in page.splitlines() if not l.startswith('.\\"'))
            self.assertNotIn("--help-man", body)
            self.assertNotIn("--help-man", help_text(binary, []))

    def test_probe_subcommand_levels_are_all_found(self):
        # Guards the walk above: if --help's layout changed, it would find nothing to check.
        found = levels(harness.PROBE)
        for path in [("check",), ("selftest",), ("selftest", "diff"), ("scenario",),
                     ("scenario", "run"), ("replay",)]:
            self.assertIn(path, found)
        self.assertIn("--redact", found[("selftest",)])
        self.assertIn("--target", found[()])
        self.assertIn("-t", found[()])

    def test_groff_formats_the_pages_without_warnings(self):
        for program in PROGRAMS:
            page = os.path.join(PACKAGING, program + ".1")
            p = subprocess.run(["groff", "-man", "-ww", "-z", page], capture_output=True, text=True,
                               timeout=20)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(p.stderr, "", program)
            # man-db's whatis parser reads the NAME line.
            w = subprocess.run(["lexgrog", page], capture_output=True, text=True, timeout=20)
            self.assertEqual(w.returncode, 0, w.stdout + w.stderr)
            self.assertIn(program + " - ", w.stdout)

    def test_the_completion_offers_every_flag_and_subcommand_of_each_level(self):
        for program, binary in PROGRAMS.items():
            for path, flags in levels(binary).items():
                offered = complete(program, list(path) + [""])
                self.assertTrue(flags <= offered, f"{program} {path}: missing {flags - offered}")
                _, subs = parse_help(help_text(binary, list(path)))
                self.assertTrue(set(subs) <= offered, f"{program} {path}: missing {subs}")

    def test_the_completion_follows_subcommands_and_completes_files_after_valued_flags(self):
        self.assertEqual(complete("dnslab-probe", ["selftest", "--red"]), {"--redact"})
        self.assertEqual(complete("dnslab-probe", ["selftest", "di"]), {"diff"})
        # `check` falls through to the top level: its parent's --timeout applies.
        self.assertIn("--timeout", complete("dnslab-probe", ["check", "--ti"]))
        # After an option that takes a value, the value (here: a file) is completed, and the
        # value is not mistaken for a subcommand.
        here = os.path.dirname(os.path.abspath(__file__))
        self.assertIn(os.path.join(here, "harness.py"),
                      complete("dnslab-probe", ["--targets", os.path.join(here, "harn")]))
        self.assertEqual(complete("dnslab-probe", ["--ca", "check", "--red"]), set())
        self.assertIn("explain", complete("dnslab-resolver", ["ex"]))
        self.assertIn("--upstream", complete("dnslab-resolver", ["explain", "--up"]))


if __name__ == "__main__":
    harness.main()
