# SPDX-License-Identifier: MIT
"""What dnslab ships (docs/install.md): the static self-test binary run from an empty directory
with a clean environment against the lab on loopback, its dynamic dependencies (only the C
library) and its glibc floor; the .deb that scripts/make-deb builds from this tree, inspected
with dpkg-deb and run from the extracted tree. Loopback only."""
import gzip
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import unittest

import harness
from test_selftest import LAB_UPSTREAM, SCHEMA, by_id, have_ipv6, validate

STATIC = os.environ.get("DNSLAB_SELFTEST_STATIC") or os.path.join(
    harness.BUILD, "probes/selftest/dnslab-selftest-linux-x86_64")
# The C library set: everything else must be linked in.
C_LIBRARY = {"libc.so.6", "libm.so.6", "libpthread.so.0", "libdl.so.2", "librt.so.1",
             "ld-linux-x86-64.so.2"}
# The documented floor (docs/install.md): GCC 12's static unwinder needs _dl_find_object.
GLIBC_FLOOR = (2, 35)
IN_CI = os.environ.get("DNSLAB_CI") == "1" or os.environ.get("CI", "") not in ("", "0", "false")
SANITIZED = os.environ.get("DNSLAB_SANITIZED") == "1"


def project_version():
    out = harness.run(["meson", "introspect", harness.BUILD, "--projectinfo"]).stdout
    return json.loads(out)["version"]


def lab_listeners():
    listen = ["udp://127.0.0.1:0", "tcp://127.0.0.1:0", "tls://127.0.0.1:0",
              "https://127.0.0.1:0/dns-query"]
    if have_ipv6():
        listen += ["udp://[::1]:0", "tcp://[::1]:0"]
    return tuple(listen)


def static_binary(test):
    """The static self-test, or a skip/fail saying why it is not there."""
    if SANITIZED:
        test.skipTest("the static self-test is linked in the plain tree only (sanitizer runtimes "
                      "need the shared libstdc++); the plain pass tests it")
    if not os.path.exists(STATIC):
        msg = (f"{STATIC} was not built: this tree lacks a static archive (meson log: 'static "
               "self-test not built: missing ...'; scripts/bootstrap installs them) or was "
               "configured with -Dstatic_selftest=disabled")
        if IN_CI:
            test.fail(msg)
        test.skipTest(msg + "; scripts/lab package builds it")
    return STATIC


class StaticSelftestTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="dnslab-static-it-")
        cls.lab = None
        if SANITIZED or not os.path.exists(STATIC):
            return
        cls.lab = harness.Resolver(listen=lab_listeners(), upstream=(LAB_UPSTREAM,))

    @classmethod
    def tearDownClass(cls):
        if cls.lab:
            cls.lab.__exit__(None, None, None)
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def empty_dir_copy(self, name):
        """A fresh directory holding only a copy of the binary (no repository around it)."""
        d = os.path.join(self.tmp, name)
        os.mkdir(d)
        exe = os.path.join(d, os.path.basename(static_binary(self)))
        shutil.copy2(static_binary(self), exe)
        return d, exe

    def run_clean(self, cwd, exe, *args, env=None, timeout=60):
        # env -i and an explicit empty environment: no PATH, no LD_LIBRARY_PATH, no HOME.
        e = ["env", "-i"] + [f"{k}={v}" for k, v in (env or {}).items()]
        return subprocess.run(e + ["./" + os.path.basename(exe), *args], cwd=cwd, env={},
                              capture_output=True, text=True, timeout=timeout)

    def test_needs_only_the_c_library(self):
        exe = static_binary(self)
        dyn = harness.run(["readelf", "-d", exe]).stdout
        needed = set(re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", dyn))
        self.assertIn("libc.so.6", needed)
        self.assertTrue(needed <= C_LIBRARY, f"links more than the C library: {needed - C_LIBRARY}")
        self.assertNotRegex(dyn, r"\((RPATH|RUNPATH)\)")
        interp = harness.run(["readelf", "-l", exe]).stdout
        self.assertIn("[Requesting program interpreter: /lib64/ld-linux-x86-64.so.2]", interp)
        # ldd resolves the same set here and nothing is missing.
        ldd = harness.run(["ldd", exe]).stdout
        self.assertNotIn("not found", ldd)
        resolved = {os.path.basename(l.split()[0]) for l in ldd.splitlines() if l.strip()}
        self.assertTrue(resolved - {"linux-vdso.so.1"} <= C_LIBRARY, ldd)

    def test_glibc_symbol_versions_stay_at_the_documented_floor(self):
        out = harness.run(["objdump", "-T", static_binary(self)]).stdout
        versions = {tuple(map(int, v.split("."))) for v in re.findall(r"GLIBC_(\d+\.\d+)", out)}
        self.assertTrue(versions)
        newer = [l for l in out.splitlines()
                 if any(tuple(map(int, v.split("."))) > GLIBC_FLOOR
                        for v in re.findall(r"GLIBC_(\d+\.\d+)", l))]
        self.assertLessEqual(max(versions), GLIBC_FLOOR, newer)
        # No libstdc++ or libgcc_s symbol versions: both are linked in.
        self.assertFalse("GLIBCXX_" in out, "libstdc++ is linked dynamically")
        self.assertFalse(re.search(r"\(GCC_[0-9.]+\)", out), "libgcc_s is linked dynamically")

    def test_runs_from_an_empty_directory_with_a_clean_environment_to_a_complete_bundle(self):
        d, exe = self.empty_dir_copy("clean-run")
        p = self.run_clean(d, exe, "--lab", self.lab.ready, "--no-color")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        made = sorted(os.listdir(d))
        self.assertEqual(len(made), 3, made)  # the binary, the report directory, the bundle
        bundle = next(os.path.join(d, n) for n in made if n.endswith(".tar.gz"))
        self.assertRegex(os.path.basename(bundle), r"^dnslab-selftest-\d{8}T\d{6}Z\.tar\.gz$")
        self.assertIn("bundle: " + os.path.basename(bundle), p.stdout)
        with tarfile.open(bundle, "r:gz") as tar:
            self.assertEqual(sorted(tar.getnames()), ["dnslab-selftest/report.html",
                                                      "dnslab-selftest/report.json",
                                                      "dnslab-selftest/report.md",
                                                      "dnslab-selftest/summary.txt"])
            report = json.load(tar.extractfile("dnslab-selftest/report.json"))
            md = tar.extractfile("dnslab-selftest/report.md").read().decode()
        with open(SCHEMA) as f:
            validate(report, json.load(f))
        self.assertEqual(report["profile"], "lab")
        self.assertEqual(report["local"]["tools"]["dnslab-probe"], project_version())
        checks = by_id(report)
        endpoints = ["udp4", "tcp4", "dot", "doh-h2", "doh-h1"] + (["udp6", "tcp6"]
                                                                   if have_ipv6() else [])
        for e in endpoints:
            self.assertEqual(checks["reachability." + e]["verdict"], "pass", checks["reachability." + e])
        for cid in ["tls.dot", "tls.doh", "interception.identity", "interception.answers",
                    "features.edns", "features.tcp-fallback", "features.ede", "local.clock"]:
            self.assertEqual(checks[cid]["verdict"], "pass", checks[cid])
        self.assertIn("dnslab lab CA", checks["tls.dot"]["data"]["issuer"])
        self.assertEqual(checks["policy.malware.testcategory.com"]["data"]["classification"],
                         "allowed")
        self.assertEqual(report["summary"]["fail"], 0)
        self.assertIn("reachability.udp4", md)

    def test_finds_the_system_trust_store_like_curl(self):
        # Gateway profile at the lab's DoT: no --ca, so the chain is judged against the system
        # store, which SSL_CERT_FILE names here (as for curl and OpenSSL).
        d, exe = self.empty_dir_copy("trust")
        dot = "127.0.0.1:%d" % self.lab.addr("tls")[1]
        # (The Gateway profile's DNSSEC and EDE names are not in the lab's zones, so those
        # checks fail here: only the certificate facts matter.)
        # --reach-name: a name the lab serves; the lab REFUSES www.cloudflare.com, and REFUSED
        # is no reachability pass (docs/selftest.md).
        args = ["--dot", dot, "--reach-name", "www.example.com", "--json", "--quiet", "--out", "r1"]
        p = self.run_clean(d, exe, *args, env={"SSL_CERT_FILE": self.lab.ca_file()})
        self.assertIn(p.returncode, (0, 1), p.stdout + p.stderr)
        report = json.loads(p.stdout)
        self.assertEqual(report["profile"], "gateway")
        tls = by_id(report)["tls.dot"]
        self.assertEqual(tls["verdict"], "pass", tls)
        self.assertTrue(tls["data"]["trusted"])
        self.assertEqual(by_id(report)["reachability.dot"]["verdict"], "pass")
        # A trust store without the lab CA: the same chain is untrusted, and DoT is refused.
        other_ca = os.path.join(d, "other-ca.pem")
        shutil.copy(self.lab_other_ca(), other_ca)
        args[-1] = "r2"
        p = self.run_clean(d, exe, *args, env={"SSL_CERT_FILE": other_ca,
                                               "SSL_CERT_DIR": os.path.join(d, "none")})
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertEqual(by_id(json.loads(p.stdout))["reachability.dot"]["verdict"], "fail")
        tls = by_id(json.loads(p.stdout))["tls.dot"]
        self.assertEqual(tls["verdict"], "fail", tls)
        self.assertFalse(tls["data"]["trusted"])

    def lab_other_ca(self):
        """The CA of another lab state directory: a valid PEM that did not sign this lab."""
        other = harness.Resolver(listen=("tls://127.0.0.1:0",), upstream=(LAB_UPSTREAM,))
        try:
            path = os.path.join(self.tmp, "other-ca.pem")
            shutil.copy(other.ca_file(), path)
            return path
        finally:
            other.__exit__(None, None, None)

    def test_help_is_written_for_the_customer_and_no_endpoint_is_a_clear_error(self):
        d, exe = self.empty_dir_copy("help")
        p = self.run_clean(d, exe, "--help")
        self.assertEqual(p.returncode, 0, p.stderr)
        flat = " ".join(p.stdout.split())  # the footer's line breaks are layout
        for text in ["What it checks", "What it sends, and to whom", "attach that file to your "
                     "support ticket", "report.html (open it in a browser)", "--doh", "--dot",
                     "--ipv4", "--redact", "Exit status"]:
            self.assertIn(text, flat)
        p = self.run_clean(d, exe)
        self.assertEqual(p.returncode, 2)
        self.assertIn("name your resolver", p.stderr)
        self.assertEqual(sorted(os.listdir(d)), [os.path.basename(exe)])  # nothing written


class DebPackageTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="dnslab-deb-it-")
        if SANITIZED:
            return
        out = harness.run([os.path.join(harness.ROOT, "scripts/make-deb"), harness.BUILD,
                           cls.tmp], timeout=300).stdout
        cls.deb = out.strip().splitlines()[-1]
        cls.root = os.path.join(cls.tmp, "root")
        harness.run(["dpkg-deb", "-x", cls.deb, cls.root])

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        if SANITIZED:
            self.skipTest("the package is built from the plain tree; a sanitized build is not "
                          "shipped")

    def field(self, name):
        return harness.run(["dpkg-deb", "-f", self.deb, name]).stdout.strip()

    def test_control_names_the_package_and_computed_dependencies(self):
        version = project_version()
        self.assertEqual(os.path.basename(self.deb), f"dnslab_{version}_amd64.deb")
        self.assertEqual(self.field("Package"), "dnslab")
        self.assertEqual(self.field("Version"), version)
        self.assertEqual(self.field("Architecture"), "amd64")
        info = harness.run(["dpkg-deb", "-I", self.deb]).stdout
        for key in ["Maintainer:", "Installed-Size:", "Description:", "Section: net"]:
            self.assertIn(key, info)
        depends = [d.strip().split(" ")[0] for d in self.field("Depends").split(",")]
        # What the binaries link (dpkg-shlibdeps), not a hand-kept list.
        for pkg in ["libc6", "libssl3", "libuv1", "libc-ares2", "libldns3", "libnghttp2-14",
                    "libre2-9", "libpcap0.8", "libmaxminddb0", "libtomlplusplus3", "libstdc++6"]:
            self.assertIn(pkg, depends)
        for pkg in depends:  # each one exists: it is installed on this build machine
            harness.run(["dpkg-query", "-W", pkg])

    def test_contents_binaries_man_pages_completions_fixtures(self):
        listing = harness.run(["dpkg-deb", "-c", self.deb]).stdout.splitlines()
        entries = {}
        for line in listing:
            parts = line.split()
            entries[parts[-1]] = parts
        for path in ["./usr/bin/dnslab-resolver", "./usr/bin/dnslab-probe",
                     "./usr/bin/dnslab-selftest", "./usr/share/man/man1/dnslab-resolver.1.gz",
                     "./usr/share/man/man1/dnslab-probe.1.gz",
                     "./usr/share/bash-completion/completions/dnslab-resolver",
                     "./usr/share/bash-completion/completions/dnslab-probe",
                     "./usr/share/dnslab/dnslab-selftest.sh",
                     "./usr/share/dnslab/zones/example.com.zone",
                     "./usr/share/dnslab/selftest/report.schema.json",
                     "./usr/share/doc/dnslab/copyright"]:
            self.assertIn(path, entries)
        for path in ["./usr/bin/dnslab-resolver", "./usr/bin/dnslab-probe",
                     "./usr/bin/dnslab-selftest", "./usr/share/dnslab/dnslab-selftest.sh"]:
            self.assertEqual(entries[path][0], "-rwxr-xr-x", path)
        for path, parts in entries.items():
            self.assertEqual(parts[1], "root/root", path)
            self.assertTrue(path == "./" or path.startswith("./usr/"), path)
        # Every fixture file of the repository is shipped under /usr/share/dnslab.
        fixtures = os.path.join(harness.ROOT, "fixtures")
        for top, _, files in os.walk(fixtures):
            for f in files:
                rel = os.path.relpath(os.path.join(top, f), fixtures)
                self.assertIn("./usr/share/dnslab/" + rel, entries)

    def test_extracted_binaries_serve_query_and_self_test(self):
        usr = os.path.join(self.root, "usr")
        zones = os.path.join(usr, "share/dnslab/zones")
        upstream = "fixture:" + zones + "?fault=servfail.example.com:malformed"
        with harness.Resolver(listen=lab_listeners(), upstream=(upstream,),
                              binary=os.path.join(usr, "bin/dnslab-resolver")) as lab:
            self.assertIn(os.path.join(usr, "bin/dnslab-resolver"), lab.cmd)
            host, port = lab.addr("udp")
            self.assertIn("192.0.2.1", harness.kdig(host, port, "+short", "www.example.com"))
            _, tcp_port = lab.addr("tcp")
            p = harness.run([os.path.join(usr, "bin/dnslab-probe"), "www.example.com",
                             "--no-color", "--target", f"udp://{host}:{port}", "--target",
                             f"tcp://{host}:{tcp_port}"])
            self.assertIn("192.0.2.1", p.stdout)
            # The wrapper finds the dnslab-probe next to it, not the build tree's.
            env = {k: v for k, v in os.environ.items() if k not in ("DNSLAB_PROBE",
                                                                   "DNSLAB_BUILD")}
            env["PATH"] = "/usr/bin:/bin"
            out = os.path.join(self.tmp, "wrapped")
            p = subprocess.run([os.path.join(usr, "bin/dnslab-selftest"), "--lab", lab.ready,
                                "--out", out, "--quiet", "--no-color"], env=env, cwd=self.tmp,
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            with open(os.path.join(out, "report.json")) as f:
                report = json.load(f)
            self.assertEqual(by_id(report)["tls.dot"]["verdict"], "pass")
            self.assertEqual(by_id(report)["features.ede"]["verdict"], "pass")

    def test_extracted_man_pages_and_completion_work(self):
        usr = os.path.join(self.root, "usr")
        page = os.path.join(usr, "share/man/man1/dnslab-probe.1.gz")
        with gzip.open(page, "rt") as f:
            self.assertTrue('.SS "dnslab-probe selftest"' in f.read(), "no selftest section")
        p = subprocess.run(["man", "-l", page], capture_output=True, text=True, timeout=20,
                           env=dict(os.environ, MANPAGER="cat", PAGER="cat", MANWIDTH="100"))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("dnslab-probe selftest diff", p.stdout)
        comp = os.path.join(usr, "share/bash-completion/completions/dnslab-resolver")
        cmd = f"source '{comp}'; COMP_WORDS=(dnslab-resolver --ups); COMP_CWORD=1; " \
              "_dnslab_resolver; echo ${COMPREPLY[@]}"
        p = subprocess.run(["bash", "--norc", "-c", cmd], capture_output=True, text=True,
                           timeout=20)
        self.assertEqual(p.stdout.split(), ["--upstream"])


if __name__ == "__main__":
    harness.main()
