// SPDX-License-Identifier: MIT
#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include <zlib.h>

#include "probes/report/formats.hpp"
#include "probes/selftest/bundle.hpp"
#include "probes/selftest/local_info.hpp"
#include "probes/selftest/report.hpp"
#include "probes/selftest/selftest.hpp"
#include "probes/selftest/tls_probe.hpp"

namespace st = probes::selftest;
using nlohmann::json;

namespace {

std::string gunzip(const std::string& in) {
    z_stream z{};
    REQUIRE(inflateInit2(&z, 15 + 16) == Z_OK);
    std::string out(1 << 20, '\0');
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z.avail_in = static_cast<uInt>(in.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    const int rc = inflate(&z, Z_FINISH);
    out.resize(z.total_out);
    inflateEnd(&z);
    REQUIRE(rc == Z_STREAM_END);
    return out;
}

probes::compare::Observation answer_a(std::initializer_list<const char*> addrs,
                                      std::uint16_t rcode = 0) {
    probes::compare::Observation o;
    o.answered = true;
    o.rcode = rcode;
    if (addrs.size() > 0) {
        probes::compare::RRset rr;
        rr.name = "malware.testcategory.com.";
        rr.type = 1;
        for (const auto* a : addrs) {
            rr.rdata.emplace_back(a);
        }
        o.answer.push_back(rr);
    }
    return o;
}

} // namespace

TEST_SUITE("probe.selftest") {
    TEST_CASE("redaction replaces whole addresses with stable placeholders") {
        const std::string text = "ns 10.0.0.1 and 10.0.0.12, v6 2001:db8::1 host box7 10.0.0.1";
        const auto out = st::redact_text(text, {"10.0.0.12", "10.0.0.1", "2001:db8::1"}, "box7");
        CHECK(out == "ns <ipv4-1> and <ipv4-2>, v6 <ipv6-1> host <hostname> <ipv4-1>");
        // Same set in another order: same placeholders.
        CHECK(st::redact_text(text, {"2001:db8::1", "10.0.0.1", "10.0.0.12"}, "box7") == out);
        // Not part of a longer address.
        CHECK(st::redact_text("110.0.0.11", {"10.0.0.1"}, "") == "110.0.0.11");
    }

    TEST_CASE("tar.gz bundle: ustar headers, contents, gzip round trip") {
        const auto gz = st::gzip(st::make_tar(
            {{"dnslab-selftest/a.txt", "hello"}, {"dnslab-selftest/b.json", "{}"}}, 1700000000));
        REQUIRE(gz);
        const auto tar = gunzip(*gz);
        REQUIRE(tar.size() == 512 * 2 + 512 * 2 + 1024);
        CHECK(tar.substr(0, 21) == "dnslab-selftest/a.txt");
        CHECK(tar.substr(257, 5) == "ustar");
        CHECK(tar.substr(124, 11) == "00000000005"); // size in octal
        CHECK(tar.substr(512, 5) == "hello");
        // Header checksum as tar computes it (checksum field counted as spaces).
        unsigned long sum = 0;
        for (int i = 0; i < 512; ++i) {
            sum += (i >= 148 && i < 156) ? ' ' : static_cast<unsigned char>(tar[i]);
        }
        CHECK(std::stoul(tar.substr(148, 6), nullptr, 8) == sum);
    }

    TEST_CASE("resolv.conf, os-release and address scanning") {
        const auto rc =
            st::parse_resolv_conf("# c\nnameserver 192.0.2.1 # x\nnameserver ::1\nsearch a.example "
                                  "b.example\noptions edns0 trust-ad\n");
        CHECK(rc.nameservers == std::vector<std::string>{"192.0.2.1", "::1"});
        CHECK(rc.search == std::vector<std::string>{"a.example", "b.example"});
        CHECK(rc.options == std::vector<std::string>{"edns0", "trust-ad"});
        CHECK(st::parse_os_release("NAME=\"Debian GNU/Linux\"\nID=debian\n")["NAME"] ==
              "Debian GNU/Linux");
        const auto found =
            st::find_addresses("Current DNS Server: 192.0.2.53\nDNS Servers: 192.0.2.53 "
                               "2001:db8::53\n  fe80::1%eth0 1.2.3.4:53 v1.2");
        CHECK(found ==
              std::vector<std::string>{"192.0.2.53", "2001:db8::53", "fe80::1", "1.2.3.4"});
        CHECK(st::is_local_only("127.0.0.53"));
        CHECK(st::is_local_only("::1"));
        CHECK(st::is_local_only("fe80::1"));
        CHECK_FALSE(st::is_local_only("192.0.2.1"));
    }

    TEST_CASE("policy classification and verdicts") {
        probes::check::Case plain;
        plain.qname = "malware.testcategory.com";
        CHECK(st::classify(answer_a({"192.0.2.115"}), {}, plain, false) == "allowed");
        CHECK(st::classify(answer_a({"0.0.0.0"}), {"sinkhole"}, plain, false) == "blocked");
        CHECK(st::classify(answer_a({"162.159.36.12", "162.159.46.12"}), {"blockpage"}, plain,
                           false) == "blockpage");
        // REFUSED from an endpoint that refuses everything is "not a location?", no block;
        // from one that answers other names it is a block (block page off).
        CHECK(st::classify(answer_a({}, 5), {"refused"}, plain, true) == "refused");
        CHECK(st::classify(answer_a({}, 5), {"refused"}, plain, false) == "blocked");
        CHECK(st::classify(answer_a({}, 2), {}, plain, false) == "error");
        probes::check::Case over = plain;
        over.outcome = "override:192.0.2.200";
        CHECK(st::classify(answer_a({"192.0.2.200"}), {}, over, false) == "override");
        CHECK(st::policy_verdict({"allowed", "allowed"}, false, {}) == st::Verdict::Info);
        CHECK(st::policy_verdict({"allowed", "blocked"}, false, {}) == st::Verdict::Warn);
        CHECK(st::policy_verdict({"error"}, false, {}) == st::Verdict::Warn);
        CHECK(st::policy_verdict({"blocked"}, true, {}) == st::Verdict::Pass);
        CHECK(st::policy_verdict({"allowed"}, true, {"udp4: expected blocked"}) ==
              st::Verdict::Fail);
    }

    TEST_CASE("report JSON, exit code and diff") {
        st::Report r;
        r.profile = "lab";
        r.checks.push_back(
            {"tls.dot", "tls", "TLS", st::Verdict::Pass, "ok", {{"issuer", "CN=a"}}});
        r.checks.push_back(
            {"features.edns", "features", "EDNS", st::Verdict::Pass, "", json::object()});
        CHECK(r.exit_code() == 0);
        const auto a = st::to_json(r, false);
        CHECK(a["schema"] == "dnslab.selftest.v1");
        CHECK(a["summary"]["pass"] == 2);
        r.checks[0].verdict = st::Verdict::Fail;
        r.checks[1].data = {{"udp_size", 512}};
        r.checks.push_back(
            {"local.clock", "local", "Clock", st::Verdict::Warn, "", json::object()});
        CHECK(r.exit_code() == 1);
        const auto b = st::to_json(r, true);
        const auto d = st::diff_reports(a, b);
        REQUIRE(d.size() == 2);
        CHECK(d[0].rfind("tls.dot: pass -> fail", 0) == 0);
        CHECK(d[1] == "local.clock: only in B (warn)");
        CHECK(st::diff_reports(a, a).empty());
        const auto md = probes::report::render_markdown(st::to_document(b), {});
        CHECK(md.find("| FAIL | `tls.dot`") != std::string::npos);
        st::Verdict v{};
        CHECK(st::verdict_from_name("not_applicable", v));
        CHECK(v == st::Verdict::NotApplicable);
        CHECK_FALSE(st::verdict_from_name("maybe", v));
    }

    TEST_CASE("endpoints from a lab ready file, overrides and profiles") {
        std::string tmpl =
            (std::filesystem::temp_directory_path() / "dnslab-selftest-ready-XXXXXX").string();
        const int fd = mkstemp(tmpl.data());
        REQUIRE(fd >= 0);
        close(fd);
        const char* path = tmpl.c_str();
        {
            std::ofstream f(path);
            f << "udp://127.0.0.1:5300\ntcp://127.0.0.1:5300\ndns://[::1]:5301\ntls://"
                 "127.0.0.1:8853\n"
                 "https://127.0.0.1:8443/dns-query\nca /tmp/lab-ca.pem\n";
        }
        st::Options o;
        o.lab_ready = path;
        o.dot = "127.0.0.1:9999";
        CHECK(st::profile_of(o) == "lab");
        auto eps = st::build_endpoints(o);
        std::remove(path);
        REQUIRE(eps);
        std::vector<std::string> ids;
        for (const auto& e : *eps) {
            ids.push_back(e.id);
        }
        CHECK(ids ==
              std::vector<std::string>{"udp4", "tcp4", "udp6", "tcp6", "dot", "doh-h2", "doh-h1"});
        CHECK(o.ca == "/tmp/lab-ca.pem");
        CHECK((*eps)[4].target.url.port_or(0) == 9999); // --dot overrides the lab's DoT
        CHECK((*eps)[4].target.url.param("ca") == "/tmp/lab-ca.pem");
        CHECK((*eps)[0].target.url.param("tc") == "keep");
        CHECK((*eps)[5].target.url.param("http") == "2");
        CHECK((*eps)[6].target.url.param("http") == "1.1");

        st::Options g;
        g.doh = "https://abc.cloudflare-gateway.com/dns-query";
        g.ipv4 = "192.0.2.1";
        CHECK(st::profile_of(g) == "gateway");
        st::apply_profile_defaults(g);
        CHECK_FALSE(g.large_name); // no public default: the check says it has no name
        CHECK(g.test_names.size() == st::gateway_test_names().size());
        auto ge = st::build_endpoints(g);
        REQUIRE(ge);
        CHECK(ge->size() == 4); // udp4, tcp4, doh-h2, doh-h1; nothing is sent here
        st::Options bad;
        bad.ipv4 = "2001:db8::1";
        CHECK_FALSE(st::build_endpoints(bad));
        st::Options none;
        CHECK_FALSE(st::build_endpoints(none));
    }

    TEST_CASE("plain DNS answered by another resolver than DoT/DoH is a failure") {
        // The interception check must fail here, not warn (issue 16).
        auto c = st::judge_identity({{"udp4", {"\"middlebox\""}},
                                     {"tcp4", {"\"middlebox\""}},
                                     {"dot", {"\"dnslab\""}},
                                     {"doh-h2", {"\"dnslab\""}}});
        CHECK(c.verdict == st::Verdict::Fail);
        CHECK(c.detail.find("intercepted or redirected") != std::string::npos);
        CHECK(c.answer == "\"dnslab\"; \"middlebox\"");
        // The same identity everywhere passes; one transport silent is worth a look.
        CHECK(st::judge_identity({{"udp4", {"\"a\""}}, {"dot", {"\"a\""}}}).verdict ==
              st::Verdict::Pass);
        CHECK(st::judge_identity({{"udp4", {"\"a\""}}, {"dot", {"\"a\""}}, {"tcp4", {}}}).verdict ==
              st::Verdict::Warn);
        // Two plain identities with nothing encrypted to compare: a warning, not a fail.
        CHECK(st::judge_identity({{"udp4", {"\"a\""}}, {"udp6", {"\"b\""}}}).verdict ==
              st::Verdict::Warn);
        CHECK(st::judge_identity({}).verdict == st::Verdict::Skipped);
    }

    TEST_CASE("REFUSED is never a reachability pass") {
        auto refused = st::judge_reachability("udp4", answer_a({}, 5), 0, 0.4);
        CHECK(refused.verdict == st::Verdict::Fail);
        CHECK(refused.detail.find("this source IP is not a Gateway location?") !=
              std::string::npos);
        CHECK(refused.rcode == "REFUSED");
        auto ok = st::judge_reachability("udp4", answer_a({"192.0.2.10"}), 0, 0.4);
        CHECK(ok.verdict == st::Verdict::Pass);
        CHECK(ok.answer == "192.0.2.10");
        CHECK(st::judge_reachability("udp4", answer_a({}, 2), 0, 0.4).verdict ==
              st::Verdict::Pass); // SERVFAIL: the resolver is there and answers
        probes::compare::Observation dead;
        dead.error = "timed out";
        CHECK(st::judge_reachability("dot", dead, 0, 0).verdict == st::Verdict::Fail);
    }

    TEST_CASE("--location fills the Gateway endpoints; '' keeps a name check off") {
        st::Options o;
        o.location = "abc123";
        st::apply_location(o);
        CHECK(o.doh == "https://abc123.cloudflare-gateway.com/dns-query");
        CHECK(o.dot == "abc123.cloudflare-gateway.com");
        CHECK(st::profile_of(o) == "gateway");
        o.large_name = "";
        st::apply_profile_defaults(o);
        CHECK(o.large_name == std::optional<std::string>(""));
        CHECK(o.error_name == std::optional<std::string>("dnssec-failed.org"));
        st::Options lab;
        lab.lab_ready = "x";
        st::apply_profile_defaults(lab);
        CHECK(lab.large_name == std::optional<std::string>("big.example.com"));
        CHECK_FALSE(lab.signed_name);
        st::Options given;
        given.location = "abc123";
        given.doh = "https://other.example/dns-query";
        st::apply_location(given);
        CHECK(given.doh == "https://other.example/dns-query");
        const auto help = st::how_to_run("dnslab-selftest");
        CHECK(help.find("dnslab-selftest --location SUB") != std::string::npos);
        CHECK(help.find("https://SUB.cloudflare-gateway.com/dns-query") != std::string::npos);
    }

    TEST_CASE("diff rows say what each check was before and after") {
        st::Report r;
        r.profile = "lab";
        r.checks.push_back({"tls.dot", "tls", "TLS", st::Verdict::Pass, "TLSv1.3, issuer CN=a"});
        const auto a = st::to_json(r, false);
        r.checks[0].verdict = st::Verdict::Fail;
        r.checks[0].detail = "certificate not trusted";
        const auto b = st::to_json(r, false);
        auto rows = st::diff_rows(a, b);
        REQUIRE(rows.size() == 1);
        CHECK(rows[0].check == "tls.dot");
        CHECK(rows[0].before == "pass: TLSv1.3, issuer CN=a");
        CHECK(rows[0].after == "fail: certificate not trusted");
        const auto text = probes::report::render_text(st::diff_document(a, b, "A", "B"), {});
        CHECK(text.find("check    before                      after") != std::string::npos);
        CHECK(text.find("1 differences") != std::string::npos);
        // Facts per endpoint: one row per endpoint that changed, in words.
        st::Report p1;
        p1.checks.push_back(
            {"policy.x",
             "policy",
             "P",
             st::Verdict::Info,
             "",
             {{"outcomes",
               {{"udp4",
                 {{"classification", "allowed"}, {"rcode", "NOERROR"}, {"answer", {"192.0.2.1"}}}},
                {"dot", {{"classification", "allowed"}}}}}}});
        auto p2 = p1;
        p2.checks[0].data["outcomes"]["udp4"]["classification"] = "blocked";
        p2.checks[0].data["outcomes"].erase("dot");
        rows = st::diff_rows(st::to_json(p1, false), st::to_json(p2, false));
        REQUIRE(rows.size() == 2);
        CHECK(rows[0].before == "outcomes dot allowed");
        CHECK(rows[0].after == "outcomes dot (absent)");
        CHECK(rows[1].before == "outcomes udp4 allowed NOERROR 192.0.2.1");
        CHECK(rows[1].after == "outcomes udp4 blocked NOERROR 192.0.2.1");
        CHECK(st::diff_reports(st::to_json(p1, false), st::to_json(p2, false)).size() == 1);
    }

    TEST_CASE("HTTP Date parsing for the clock hint") {
        CHECK(st::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT") == 784111777L);
        CHECK_FALSE(st::parse_http_date("yesterday"));
    }
}
