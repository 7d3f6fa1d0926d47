// SPDX-License-Identifier: MIT
// The HTML renderer (probes/report/html.cpp): escaping of hostile strings, the verdict table,
// badges, the latency chart, and the page's promise to load and run nothing.
#include <doctest/doctest.h>

#include <regex>
#include <string>

#include "probes/report/formats.hpp"

namespace report = probes::report;

namespace {

bool has(const std::string& hay, const std::string& needle) {
    return hay.find(needle) != std::string::npos;
}

std::size_t count(const std::string& hay, const std::string& needle) {
    std::size_t n = 0;
    for (auto pos = hay.find(needle); pos != std::string::npos; pos = hay.find(needle, pos + 1)) {
        ++n;
    }
    return n;
}

// A payload per place a string can reach the page, each with its own tag name, so a renderer
// that forgets to escape any one place is caught by name.
std::string evil(const std::string& where) {
    return "<x-" + where + " onclick=\"alert(1)\">'</x-" + where + ">";
}

report::Document hostile() {
    report::Document doc;
    doc.title = evil("title");
    doc.suite = "s";
    doc.headline = {report::plain(evil("headline"))};
    auto& s = doc.add_section();
    s.blocks.emplace_back(
        report::Heading{3, {report::toned(evil("heading"), report::Tone::Strong)}});
    s.blocks.emplace_back(report::line({report::plain(evil("line"))}));
    s.blocks.emplace_back(report::line({report::toned(evil("code"), report::Tone::Code)}, 2));
    s.blocks.emplace_back(
        report::line({report::badge_span(report::Badge::Blocked, evil("badge"))}));
    // A TXT record as dig prints it, with markup in its data, and one closing the <pre>.
    s.blocks.emplace_back(report::Preformatted{
        4,
        "",
        evil("lang"),
        {"evil.example. 300 IN TXT \"" + evil("txt") + "\"", "</pre><x-pre-break>"}});
    report::Table t{0, {{evil("column")}}, {{{report::plain(evil("cell"))}}}};
    s.blocks.emplace_back(std::move(t));
    report::LatencyChart chart;
    chart.caption = evil("caption");
    chart.rows.push_back({evil("target"), evil("transport"), {1, 2, 1}, {3, 4, 2}});
    s.blocks.emplace_back(std::move(chart));
    report::TestCase tc{evil("group"),
                        evil("name"),
                        report::TestCase::Failure{evil("msg"), "t"},
                        {report::Badge::Fail},
                        evil("summary")};
    doc.cases.push_back(tc);
    tc.classname = "other";
    doc.cases.push_back(tc);
    doc.exit_code = 1;
    return doc;
}

} // namespace

TEST_SUITE_BEGIN("probe.report.html");

TEST_CASE("html_escape: markup characters, controls and malformed UTF-8") {
    const std::string fffd = "\xEF\xBF\xBD";
    struct Row {
        std::string in, out;
    };
    const Row rows[] = {
        {"<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"},
        {"a & b \"c\" 'd'", "a &amp; b &quot;c&quot; &#39;d&#39;"},
        {"tab\tnew\nline", "tab\tnew\nline"},
        {std::string("nul\0x", 5), "nul" + fffd + "x"},
        {"esc\x1b[31m", "esc" + fffd + "[31m"},
        {"del\x7f", "del" + fffd},
        {"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80", "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"},
        {"\xFF", fffd},
        {"\xC0\x80", fffd + fffd},                       // overlong NUL
        {"\xED\xA0\x80", fffd + fffd + fffd},            // UTF-16 surrogate
        {"\xF4\x90\x80\x80", fffd + fffd + fffd + fffd}, // above U+10FFFF
        {"\xE2\x82", fffd + fffd},                       // cut short at the end
        {"\xE2<", fffd + "&lt;"},                        // a lead byte cannot swallow markup
    };
    for (const auto& r : rows) {
        CAPTURE(r.in);
        CHECK(report::html_escape(r.in) == r.out);
    }
}

TEST_CASE("a hostile string injects no markup wherever it appears") {
    const auto page = report::render_html(hostile(), {});
    for (const char* where :
         {"title", "headline", "heading", "line", "code", "badge", "lang", "txt", "column", "cell",
          "caption", "target", "transport", "group", "name", "summary"}) {
        const std::string place = where;
        CAPTURE(place);
        CHECK_FALSE(has(page, std::string("<x-") + where));
        CHECK(has(page, std::string("&lt;x-") + where));
    }
    CHECK_FALSE(has(page, "<x-pre-break"));
    CHECK_FALSE(has(page, "onclick=\""));
    CHECK(count(page, "<pre") == count(page, "</pre>"));
    CHECK(count(page, "<pre") == 1);
}

TEST_CASE("the page loads nothing and runs nothing") {
    const auto page = report::render_html(hostile(), {});
    CHECK(page.rfind("<!DOCTYPE html>\n", 0) == 0);
    CHECK(has(page, "<meta charset=\"utf-8\">"));
    CHECK(has(page, "content=\"default-src 'none'; style-src 'unsafe-inline'\""));
    CHECK_FALSE(has(page, "<script"));
    CHECK_FALSE(has(page, "<link"));
    CHECK_FALSE(has(page, "<img"));
    // No attribute that fetches (src, href, url(...) in CSS); the SVG namespace is an
    // identifier, not a fetch.
    CHECK_FALSE(std::regex_search(page, std::regex(R"(\s(src|href|srcset|action)\s*=)")));
    CHECK_FALSE(has(page, "url("));
    CHECK_FALSE(has(page, "@import"));
}

TEST_CASE("the verdict table: badges per case, tally, groups, headline colour") {
    report::Document doc;
    doc.title = "dnslab-probe";
    doc.suite = "dnslab-probe";
    doc.headline = {report::plain("3 questions: 1 identical, 1 equivalent, 1 differ")};
    doc.cases.push_back({"dnslab-probe.matrix",
                         "a.example A",
                         std::nullopt,
                         {report::Badge::Identical, report::Badge::Blocked},
                         "blocked by all"});
    doc.cases.push_back(
        {"dnslab-probe.matrix", "b.example A", std::nullopt, {report::Badge::Equivalent}, ""});
    doc.cases.push_back({"dnslab-probe.matrix",
                         "c.example A",
                         report::TestCase::Failure{"differ: first difference rcode", ""},
                         {report::Badge::Differ},
                         ""});
    doc.exit_code = 1;
    const auto page = report::render_html(doc, {});
    CHECK(has(page, "<p class=\"headline problem\" id=\"headline\">3 questions: 1 identical"));
    CHECK(has(page, "<span class=\"badge b-identical\">1 identical</span>"));
    CHECK(has(page, "<span class=\"badge b-blocked\">1 blocked</span>"));
    CHECK(has(page, "<span class=\"badge b-differ\">1 differ</span>"));
    // One row per case, its badges in order, the failure message when there is no summary.
    CHECK(has(page, "<tr class=\"row-warn\"><td class=\"v\"><span class=\"badge "
                    "b-identical\">identical</span><span class=\"badge b-blocked\">blocked</span>"
                    "</td><td>a.example A</td><td>blocked by all</td></tr>"));
    CHECK(has(page,
              "<tr class=\"row-bad\"><td class=\"v\"><span class=\"badge b-differ\">differ"
              "</span></td><td>c.example A</td><td>differ: first difference rcode</td></tr>"));
    // Every case is in the same group: no group column.
    CHECK_FALSE(has(page, "<th>group</th>"));
    // The verdicts come before the body.
    CHECK(page.find("id=\"verdicts\"") < page.find("<main>"));

    doc.exit_code = 0;
    doc.cases.push_back({"dnslab-probe.other", "d", std::nullopt, {}, ""});
    const auto ok = report::render_html(doc, {});
    CHECK(has(ok, "<p class=\"headline ok\""));
    CHECK(has(ok, "<th>group</th>"));
    CHECK(has(ok, "<td><code>other</code></td>"));
    CHECK(has(ok, "<span class=\"badge b-pass\">pass</span>")); // no badges: pass from failure
}

TEST_CASE("a long run lists only the cases worth a look") {
    report::Document doc;
    doc.suite = "s";
    for (int i = 0; i < 600; ++i) {
        doc.cases.push_back({"s", "ok-" + std::to_string(i), std::nullopt, {}, ""});
    }
    doc.cases.push_back({"s", "bad-one", report::TestCase::Failure{"m", "t"}, {}, ""});
    doc.cases.push_back({"s", "info-one", std::nullopt, {report::Badge::Info}, ""});
    doc.cases.push_back(
        {"s", "blocked-one", std::nullopt, {report::Badge::Pass, report::Badge::Blocked}, ""});
    const auto page = report::render_html(doc, {});
    CHECK(has(page, "<span class=\"badge b-pass\">601 pass</span>"));
    CHECK(has(page, "<tr class=\"row-bad\"><td class=\"v\"><span class=\"badge b-fail\">fail"
                    "</span></td><td>bad-one</td>"));
    CHECK(has(page, "<td>blocked-one</td>"));
    CHECK_FALSE(has(page, "<td>info-one</td>"));
    CHECK_FALSE(has(page, "<td>ok-1</td>"));
    CHECK(has(page, "601 more not listed (only the ones worth a look are)"));
}

TEST_CASE("body blocks: headings, nested lists, records inside their item, tables") {
    report::Document doc;
    auto& s = doc.add_section();
    s.blocks.emplace_back(
        report::Heading{3,
                        {report::toned(";; q A", report::Tone::Strong), report::plain("  "),
                         report::badge_span(report::Badge::Differ)}});
    s.blocks.emplace_back(report::line("class 1: a, b", 2));
    s.blocks.emplace_back(report::Preformatted{4, "", "dns", {"q. 300 IN A 192.0.2.1"}});
    s.blocks.emplace_back(report::line("first difference", 4));
    s.blocks.emplace_back(report::line("class 2: c", 2));
    s.blocks.emplace_back(report::Break{});
    using Col = report::Table::Column;
    s.blocks.emplace_back(report::Table{
        2,
        {Col{"target", report::Table::Align::Left}, Col{"p50", report::Table::Align::Right}},
        {{{report::plain("a")}, {report::plain("1.0")}}}});
    doc.add_section(report::Audience::Brief).blocks.emplace_back(report::line("brief only"));
    const auto page = report::render_html(doc, {});
    CHECK(has(page, "<h3><strong>;; q A</strong>  <span class=\"badge b-differ\">differ</span>"
                    "</h3>"));
    CHECK(has(page, "<ul><li>class 1: a, b<pre class=\"lang-dns\">q. 300 IN A 192.0.2.1</pre>\n"
                    "<ul><li>first difference</li></ul>\n</li>\n<li>class 2: c</li></ul>"));
    CHECK(has(page, "<th class=\"r\">p50</th>"));
    CHECK(has(page, "<td class=\"r\">1.0</td>"));
    CHECK(count(page, "<ul>") == count(page, "</ul>"));
    CHECK(count(page, "<li>") == count(page, "</li>"));
    CHECK_FALSE(has(page, "brief only"));
    CHECK(has(report::render_html(doc, {false, true}), "brief only"));
}

TEST_CASE("the latency chart: bars to scale, p95 behind p50, rows without samples") {
    report::Document doc;
    report::LatencyChart c;
    c.caption = "latency per target";
    c.rows.push_back({"lab-tcp", "tcp", {2, 4, 3}, {5, 20, 3}});
    c.rows.push_back({"lab-udp", "udp", {}, {1, 1, 3}});
    c.rows.push_back({std::string(60, 'n'), "https-post", {}, {}});
    doc.add_section().blocks.emplace_back(c);
    const auto page = report::render_html(doc, {});
    // The axis ends at the largest p95 rounded up (20 ms); the plot is 460 px wide.
    CHECK(has(page, ">20</text>"));
    CHECK(has(page, "<rect class=\"q95\" x=\"230\" y=\"60\" width=\"460\" height=\"11\"/>"));
    CHECK(has(page, "<rect class=\"q50\" x=\"230\" y=\"60\" width=\"115\" height=\"11\"/>"));
    CHECK(has(page, "<rect class=\"c50\" x=\"230\" y=\"46\" width=\"46\" height=\"11\"/>"));
    CHECK(has(page, "<title>query p50 5.00 ms, p95 20.0 ms (3 samples)</title>"));
    CHECK(has(page, "connect: none measured"));
    CHECK(count(page, "none measured") == 3); // udp connect, and both bars of the third row
    // A long label is cut on screen, whole in its tooltip.
    CHECK(has(page, "<title>" + std::string(60, 'n') + " (https-post)</title>"));
    CHECK(has(page, std::string(33, 'n') + "\xE2\x80\xA6</text>"));
    CHECK(has(page, "<figcaption>latency per target</figcaption>"));
    // Terminal text and Markdown draw no pictures.
    CHECK(report::render_text(doc, {}).empty());
    CHECK(report::render_markdown(doc, {}).empty());
}

TEST_CASE("LatencySamples: connect time only for new connections, percentiles per row") {
    report::LatencySamples s;
    s.add_target("never", "tls");
    s.add("a", "tcp", 3, 10, false);
    s.add("a", "tcp", 0, 2, true); // reused: no connect time
    s.add("a", "tcp", 5, 4, false);
    s.add("u", "udp", 0, 1, false); // a datagram has no connect
    const auto c = s.chart("cap");
    REQUIRE(c.rows.size() == 3);
    CHECK(c.caption == "cap");
    CHECK(c.rows[0].target == "never");
    CHECK(c.rows[0].query.samples == 0);
    CHECK(c.rows[1].connect.samples == 2);
    CHECK(c.rows[1].connect.p50 == 3);
    CHECK(c.rows[1].connect.p95 == 5);
    CHECK(c.rows[1].query.samples == 3);
    CHECK(c.rows[1].query.p50 == 4);
    CHECK(c.rows[1].query.p95 == 10);
    CHECK(c.rows[2].connect.samples == 0);
    CHECK(report::percentile({}, 50) == 0);
    CHECK(report::percentile({5, 1, 3, 2, 4}, 50) == 3);
    CHECK(report::percentile({5, 1, 3, 2, 4}, 95) == 5);
}

TEST_CASE("badges carry their tone into the terminal colours") {
    CHECK(report::badge_tone(report::Badge::Identical) == report::Tone::Good);
    CHECK(report::badge_tone(report::Badge::Differ) == report::Tone::Bad);
    CHECK(report::badge_tone(report::Badge::Blocked) == report::Tone::Warn);
    CHECK(report::badge_tone(report::Badge::Skipped) == report::Tone::Muted);
    CHECK(std::string(report::badge_name(report::Badge::NotApplicable)) == "n/a");
    report::Document doc;
    doc.add_section().blocks.emplace_back(
        report::line({report::badge_span(report::Badge::Fail, "FAIL")}));
    CHECK(report::render_text(doc, {true, false}) == "\033[31mFAIL\033[0m\n");
    CHECK(report::find_format("html") != nullptr);
}

TEST_SUITE_END();
