# SPDX-License-Identifier: MIT
"""The fixture upstream's answers files (docs/fixtures.md, "Answers files"): a case written as
`name type value [ttl]` lines, served through the resolver with no zone and no SOA written by
hand, asked with kdig on loopback. Also over the lab zones (answers replace what the zone files
say) and a bad line (the resolver refuses to start, naming file and line)."""
import os
import shutil
import subprocess
import tempfile
import unittest

import harness

CASE = """\
# What the customer's upstream answered, written down quickly.
www.example.org        A      203.0.113.7
www.example.org        AAAA   2001:db8::7    60
example.org            MX     10 mail.example.org
mail.example.org       A      203.0.113.25
shop.example.org       CNAME  www.example.org
txt.example.org        TXT    "v=spf1 -all"
*.cdn.example.org      A      203.0.113.99
retired.example.org    NXDOMAIN
www.example.com        A      198.51.100.1
"""


def kdig(lab, *args):
    host, port = lab.addr("udp")
    return harness.kdig(host, port, "+norec", *args)


class AnswersTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="dnslab-answers-it-")
        cls.case = os.path.join(cls.tmp, "case.txt")
        with open(cls.case, "w") as f:
            f.write(CASE)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_answers_alone_are_served_with_an_invented_zone(self):
        with harness.Resolver(listen=("udp://127.0.0.1:0",),
                              upstream=("fixture:?answers=" + self.case,)) as lab:
            out = kdig(lab, "+noall", "+answer", "www.example.org", "A")
            self.assertRegex(out, r"www\.example\.org\.\s+\d+\s+IN\s+A\s+203\.0\.113\.7")
            out = kdig(lab, "+noall", "+answer", "www.example.org", "AAAA")
            self.assertRegex(out, r"www\.example\.org\.\s+60\s+IN\s+AAAA\s+2001:db8::7")
            out = kdig(lab, "+noall", "+answer", "example.org", "MX")
            self.assertRegex(out, r"example\.org\.\s+\d+\s+IN\s+MX\s+10 mail\.example\.org\.")
            out = kdig(lab, "+noall", "+answer", "shop.example.org", "A")
            self.assertRegex(out, r"shop\.example\.org\.\s+\d+\s+IN\s+CNAME\s+www\.example\.org\.")
            self.assertIn("203.0.113.7", out)
            self.assertIn('"v=spf1 -all"', kdig(lab, "+short", "txt.example.org", "TXT"))
            self.assertEqual(kdig(lab, "+short", "img.cdn.example.org", "A").split(), ["203.0.113.99"])
            # Not in the file, or NXDOMAIN in it: NXDOMAIN with the invented SOA.
            for name in ("retired.example.org", "unknown.example.org"):
                out = kdig(lab, "+noall", "+header", "+authority", name, "A")
                self.assertIn("status: NXDOMAIN", out)
                self.assertRegex(out, r"example\.org\.\s+60\s+IN\s+SOA\s+ns\.dnslab\.invalid\. "
                                      r"hostmaster\.dnslab\.invalid\. 1 3600 600 86400 60")
            # A name with answers of another type: NODATA.
            out = kdig(lab, "+noall", "+header", "mail.example.org", "TXT")
            self.assertIn("status: NOERROR", out)
            self.assertIn("ANSWER: 0", out)
            # Names under no answer are not ours: REFUSED, as for names outside every zone.
            self.assertIn("status: REFUSED", kdig(lab, "+noall", "+header", "example.net", "A"))

    def test_answers_over_the_lab_zones_replace_the_zone_files(self):
        with harness.Resolver(listen=("udp://127.0.0.1:0",),
                              upstream=("fixture:" + harness.ZONES + "?answers=" + self.case,)) as lab:
            self.assertEqual(kdig(lab, "+short", "www.example.com", "A").split(), ["198.51.100.1"])
            # What the answers do not mention still comes from the zone files.
            self.assertEqual(kdig(lab, "+short", "www.example.com", "AAAA").split(), ["2001:db8::10"])
            self.assertEqual(kdig(lab, "+short", "mail.example.com", "A").split(), ["192.0.2.25"])
            self.assertEqual(kdig(lab, "+short", "www.example.org", "A").split(), ["203.0.113.7"])

    def test_a_bad_line_stops_the_resolver_naming_file_and_line(self):
        bad = os.path.join(self.tmp, "bad.txt")
        with open(bad, "w") as f:
            f.write("www.example.org A 203.0.113.7\n\nwww.example.org MX mail.example.org\n")
        with self.assertRaises(RuntimeError) as ctx:
            harness.Resolver(listen=("udp://127.0.0.1:0",), upstream=("fixture:?answers=" + bad,))
        self.assertIn(bad + ":3: ", str(ctx.exception))
        self.assertIn("exited with 2", str(ctx.exception))


if __name__ == "__main__":
    harness.main()
