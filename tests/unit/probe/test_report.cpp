// SPDX-License-Identifier: MIT
// The report model and its renderers (probes/report), and the probe session.
#include <doctest/doctest.h>

#include <string>
#include <utility>

#include "probes/report/formats.hpp"
#include "probes/session/session.hpp"
#include "resolver/util/url.hpp"

namespace report = probes::report;

namespace {

report::Document sample() {
    report::Document doc;
    doc.title = "sample";
    doc.suite = "suite <1>";
    doc.machine = {{"schema", "x.v1"}};
    auto& s = doc.add_section();
    s.blocks.emplace_back(report::Heading{2, {report::plain("Head")}});
    s.blocks.emplace_back(
        report::line({report::toned("PASS", report::Tone::Good), report::plain(" id "),
                      report::toned("a|b", report::Tone::Code)}));
    s.blocks.emplace_back(report::line("nested", 6));
    s.blocks.emplace_back(report::Preformatted{4, "| ", "dns", {"rr one", "rr two"}});
    using Col = report::Table::Column;
    s.blocks.emplace_back(report::Table{
        2,
        {Col{"target", report::Table::Align::Left}, Col{"ms", report::Table::Align::Right}},
        {{{report::plain("a")}, {report::plain("1.0")}},
         {{report::plain("long-name")}, {report::plain("12.5")}}}});
    doc.add_section(report::Audience::Brief).blocks.emplace_back(report::line("brief only"));
    doc.add_section(report::Audience::Detail).blocks.emplace_back(report::line("detail only"));
    doc.cases.push_back({"c", "ok", std::nullopt, {}, {}});
    doc.cases.push_back({"c", "bad & \"worse\"", report::TestCase::Failure{"m<", "t>"}, {}, {}});
    return doc;
}

} // namespace

TEST_SUITE_BEGIN("probe.report");

TEST_CASE("the text renderer indents, aligns tables and colours only when asked") {
    const auto doc = sample();
    const auto plain = report::render_text(doc, {false, false});
    CHECK(plain == "Head\n"
                   "PASS id a|b\n"
                   "      nested\n"
                   "    | rr one\n"
                   "    | rr two\n"
                   "  target       ms\n"
                   "  a           1.0\n"
                   "  long-name  12.5\n"
                   "detail only\n");
    const auto brief = report::render_text(doc, {false, true});
    CHECK(brief.find("brief only") != std::string::npos);
    CHECK(brief.find("detail only") == std::string::npos);
    CHECK(report::render_text(doc, {true, false}).find("\033[32mPASS\033[0m") != std::string::npos);
}

TEST_CASE("Markdown: headings, nested lists, code blocks and escaped table cells") {
    const auto md = report::render_markdown(sample(), {});
    CHECK(md == "# sample\n"
                "\n"
                "## Head\n"
                "\n"
                "PASS id `a|b`\n"
                "\n"
                "- nested\n"
                "\n"
                "```dns\n"
                "rr one\n"
                "rr two\n"
                "```\n"
                "\n"
                "| target | ms |\n"
                "|---|---:|\n"
                "| a | 1.0 |\n"
                "| long-name | 12.5 |\n"
                "\n"
                "detail only\n");
    report::Document t;
    t.add_section().blocks.emplace_back(report::Table{0, {{"x"}}, {{{report::plain("a|b\nc")}}}});
    CHECK(report::render_markdown(t, {}).find("| a\\|b c |") != std::string::npos);
}

TEST_CASE("JUnit counts failures and escapes XML; JSON is the machine document") {
    const auto xml = report::render_junit(sample(), {});
    CHECK(xml == "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                 "<testsuite name=\"suite &lt;1&gt;\" tests=\"2\" failures=\"1\">\n"
                 "  <testcase classname=\"c\" name=\"ok\">\n"
                 "  </testcase>\n"
                 "  <testcase classname=\"c\" name=\"bad &amp; &quot;worse&quot;\">\n"
                 "    <failure message=\"m&lt;\">t&gt;</failure>\n"
                 "  </testcase>\n"
                 "</testsuite>\n");
    CHECK(report::render_json(sample(), {}) == "{\n  \"schema\": \"x.v1\"\n}\n");
}

TEST_CASE("--report FORMAT=FILE names a known format") {
    auto r = report::parse_output("markdown=out.md");
    REQUIRE(r);
    CHECK(r->format == "markdown");
    CHECK(r->path == "out.md");
    auto stdout_only = report::parse_output("junit");
    REQUIRE(stdout_only);
    CHECK(stdout_only->path == "-");
    auto bad = report::parse_output("pdf=x");
    REQUIRE_FALSE(bad);
    CHECK(bad.error().detail == "unknown report format 'pdf' (text, json, junit, markdown, html)");
    CHECK_FALSE(report::parse_output("json="));
    for (const auto& f : report::formats()) {
        CHECK(report::find_format(f.name) == &f);
        CHECK(static_cast<bool>(f.render));
    }
}

TEST_CASE("the output flags become requests: stdout, --junit, --html, then each --report") {
    auto all = report::requested_outputs("json", "r.xml", "r.html", {"markdown=r.md", "text"});
    REQUIRE(all);
    REQUIRE(all->size() == 5);
    const std::pair<const char*, const char*> want[] = {
        {"json", "-"}, {"junit", "r.xml"}, {"html", "r.html"}, {"markdown", "r.md"}, {"text", "-"}};
    for (std::size_t i = 0; i < 5; ++i) {
        CAPTURE(i);
        CHECK((*all)[i].format == want[i].first);
        CHECK((*all)[i].path == want[i].second);
    }
    auto stdout_only = report::requested_outputs("text", "", "", {});
    REQUIRE(stdout_only);
    REQUIRE(stdout_only->size() == 1);
    CHECK(stdout_only->front().format == "text");
    auto bad = report::requested_outputs("text", "", "", {"json=a.json", "pdf=x"});
    REQUIRE_FALSE(bad);
    CHECK(bad.error().detail == "unknown report format 'pdf' (text, json, junit, markdown, html)");
}

TEST_CASE("a probe session reports a URL it cannot ask and closes its loop") {
    auto session = probes::session::ProbeSession::open({});
    REQUIRE(session);
    auto url = resolver::util::parse_url("udp://example.invalid:53");
    REQUIRE(url);
    // Do53 takes an address, not a name: the factory refuses it, nothing is sent.
    const auto out = (*session)->run({probes::session::Job{*url, {0, 1}}});
    REQUIRE(out.size() == 1);
    CHECK_FALSE(out[0].exchange);
    CHECK(out[0].error.find("take an IP address") != std::string::npos);
    CHECK((*session)->close());
    CHECK((*session)->close()); // idempotent
}

TEST_SUITE_END();
