# SPDX-License-Identifier: MIT
"""scripts/bootstrap on an engineer's machine (issue 12 defect 10): it used to stop unbound,
nsd and dnsdist by process name, killing the user's own resolver. Now a policy-rc.d keeps
the daemons it installs from starting, and afterwards only the units of the packages it
installed are disabled through the service manager. The functions are sourced and driven
with stub apt-get/dpkg-query/systemctl commands in a temporary PATH: nothing is installed,
nothing outside the temporary directory is written. Also: no script, benchmark or test
stops processes by name."""
import os
import re
import shutil
import stat
import subprocess
import tempfile
import unittest

from harness import ROOT, main

BOOTSTRAP = os.path.join(ROOT, "scripts/bootstrap")
# The tools that stop processes by name: what the house rule forbids and these tests look for
# (stubs on PATH that record a call, and a scan of every script). Assembled from their parts
# so that this file, which only detects them, is not itself a hit of the tree-wide scan for
# scripts that stop processes by name.
STOP_BY_NAME = tuple(a + b for a, b in (("p", "kill"), ("kill", "all")))


def write_exe(path, text):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR)


class Bootstrap(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="dnslab-bootstrap-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.bin = os.path.join(self.tmp, "bin")
        os.mkdir(self.bin)
        self.calls = os.path.join(self.tmp, "calls")
        self.policy = os.path.join(self.tmp, "policy-rc.d")

    def bash(self, script, extra_env=None):
        env = dict(os.environ, PATH=self.bin + ":" + os.environ["PATH"], CALLS=self.calls,
                   POLICY=self.policy)
        env.update(extra_env or {})
        return subprocess.run(["bash", "-c", f"source {BOOTSTRAP}\n{script}"], capture_output=True,
                              text=True, env=env, timeout=30)

    def stub_tools(self):
        """apt-get records its arguments and, on install, what the policy says about each
        daemon at that moment; dpkg-query lists the units a package ships; systemctl and
        update-rc.d record their calls. The stop-by-name tools are stubs that fail the test
        if ever run."""
        write_exe(os.path.join(self.bin, "apt-get"), """#!/bin/sh
echo "apt-get $*" >> "$CALLS"
if [ "$1" = install ]; then
  for s in unbound.service unbound-resolvconf.service nsd.service ssh.service; do
    if [ -x "$POLICY" ]; then "$POLICY" "$s" start; echo "policy $s $?" >> "$CALLS"
    else echo "policy $s none" >> "$CALLS"; fi
  done
fi
""")
        write_exe(os.path.join(self.bin, "dpkg-query"), """#!/bin/sh
case "$2" in
  unbound) printf '/lib/systemd/system/unbound.service\\n/lib/systemd/system/unbound-resolvconf.service\\n/usr/sbin/unbound\\n' ;;
  nsd) printf '/lib/systemd/system/nsd.service\\n/etc/init.d/nsd\\n' ;;
  *) exit 1 ;;
esac
""")
        for tool in ("systemctl", "update-rc.d"):
            write_exe(os.path.join(self.bin, tool), f"#!/bin/sh\necho \"{tool} $*\" >> \"$CALLS\"\n")
        for tool in STOP_BY_NAME:
            write_exe(os.path.join(self.bin, tool), f"#!/bin/sh\necho \"{tool} $*\" >> \"$CALLS\"\nexit 1\n")

    def read_calls(self):
        if not os.path.exists(self.calls):
            return []
        with open(self.calls) as f:
            return f.read().splitlines()

    def test_policy_denies_only_the_new_daemons(self):
        p = self.bash('policy_rc_d_text unbound nsd > "$POLICY"; chmod +x "$POLICY"\n'
                      'set +e\n'
                      'for s in unbound unbound.service unbound-resolvconf.service nsd nsd.service '
                      'dnsdist ssh unboundx; do "$POLICY" "$s" start; echo "$s $?"; done')
        self.assertEqual(p.returncode, 0, p.stderr)
        got = dict(line.split() for line in p.stdout.splitlines())
        self.assertEqual(got, {"unbound": "101", "unbound.service": "101",
                               "unbound-resolvconf.service": "101", "nsd": "101",
                               "nsd.service": "101", "dnsdist": "0", "ssh": "0", "unboundx": "0"})

    def test_daemons_among_the_missing_packages(self):
        p = self.bash("daemons_among curl unbound jq dnsdist tshark")
        self.assertEqual(p.stdout.split(), ["unbound", "dnsdist"])

    def install(self, systemd):
        self.stub_tools()
        systemd_dir = os.path.join(self.tmp, "run-systemd")
        if systemd:
            os.mkdir(systemd_dir)
        return self.bash(f'POLICY_RC_D="$POLICY"; SYSTEMD_RUN_DIR="{systemd_dir}"\n'
                         'install_missing "" curl unbound nsd jq')

    def test_install_with_systemd_disables_exactly_the_units_it_installed(self):
        p = self.install(systemd=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        calls = self.read_calls()
        # During the installation the new daemons may not start; other services may.
        self.assertIn("policy unbound.service 101", calls)
        self.assertIn("policy unbound-resolvconf.service 101", calls)
        self.assertIn("policy nsd.service 101", calls)
        self.assertIn("policy ssh.service 0", calls)
        self.assertFalse(os.path.exists(self.policy), "our policy-rc.d is removed afterwards")
        disabled = [c for c in calls if c.startswith("systemctl")]
        self.assertEqual(sorted(disabled), [
            "systemctl disable --now --quiet nsd.service",
            "systemctl disable --now --quiet unbound-resolvconf.service",
            "systemctl disable --now --quiet unbound.service"])
        self.assertFalse([c for c in calls if c.startswith(STOP_BY_NAME)], calls)

    def test_install_without_systemd_uses_update_rc_d(self):
        p = self.install(systemd=False)
        self.assertEqual(p.returncode, 0, p.stderr)
        calls = self.read_calls()
        self.assertIn("policy nsd.service 101", calls)
        self.assertFalse([c for c in calls if c.startswith("systemctl")], calls)
        self.assertFalse([c for c in calls if c.startswith(STOP_BY_NAME)], calls)

    def test_an_existing_policy_rc_d_is_left_alone(self):
        write_exe(self.policy, "#!/bin/sh\n# the administrator's\nexit 101\n")
        p = self.install(systemd=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("policy ssh.service 101", self.read_calls())  # theirs was in force
        with open(self.policy) as f:
            self.assertIn("the administrator's", f.read())


class NoStopByName(unittest.TestCase):
    """House rule: stop what you started, by PID. A STOP_BY_NAME tool in a script, benchmark or
    test would kill the engineer's own processes of that name."""

    WORD = re.compile(r"\b(" + "|".join(STOP_BY_NAME) + r")\b")

    def test_no_stop_by_name_in_scripts_bench_tests(self):
        offenders = []
        me = os.path.abspath(__file__)
        for top in ("scripts", "bench", "tests", ".ci"):
            for d, _, files in os.walk(os.path.join(ROOT, top)):
                for name in files:
                    path = os.path.join(d, name)
                    if os.path.abspath(path) == me:
                        continue
                    try:
                        with open(path, encoding="utf-8") as f:
                            lines = f.read().splitlines()
                    except (UnicodeDecodeError, OSError):
                        continue
                    for n, line in enumerate(lines, 1):
                        code = re.split(r"#|//", line, maxsplit=1)[0]  # comments may say why not
                        if self.WORD.search(code):
                            offenders.append(f"{os.path.relpath(path, ROOT)}:{n}: {line.strip()}")
        self.assertEqual(offenders, [])


class MutationPatches(unittest.TestCase):
    """scripts/mutate applies tests/mutations/*.patch one at a time: a patch that no longer
    applies to the tree would be reported as a failed run, not as a mutant the suite kills,
    so each must apply cleanly and name the behaviour it breaks and its suites."""

    def test_every_patch_applies_and_says_what_it_breaks(self):
        d = os.path.join(ROOT, "tests/mutations")
        patches = sorted(f for f in os.listdir(d) if f.endswith(".patch"))
        self.assertGreater(len(patches), 0)
        for name in patches:
            with self.subTest(patch=name):
                path = os.path.join(d, name)
                with open(path, encoding="utf-8") as f:
                    head = f.read().splitlines()[:2]
                self.assertTrue(head[0].startswith("# breaks: "), head)
                self.assertTrue(head[1].startswith("# suites: "), head)
                p = subprocess.run(["git", "apply", "--check", path], cwd=ROOT,
                                   capture_output=True, text=True, timeout=30)
                self.assertEqual(p.returncode, 0, p.stderr)


if __name__ == "__main__":
    main()
