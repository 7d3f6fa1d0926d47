// SPDX-License-Identifier: MIT
// Metrics: the text format writer, the per-loop counters of finished queries, the upstream
// meter and the registry that merges loops.
#include <doctest/doctest.h>

#include <uv.h>

#include "resolver/core/clock.hpp"
#include "resolver/telemetry/query_metrics.hpp"
#include "resolver/telemetry/registry.hpp"
#include "resolver/telemetry/upstream_meter.hpp"

namespace telemetry = resolver::telemetry;
namespace stages = resolver::stages;
namespace wire = resolver::wire;
namespace net = resolver::net;
using resolver::Errc;
using resolver::Result;

namespace {
stages::QueryContext answered(net::Transport t, std::uint16_t rcode) {
    stages::QueryContext ctx;
    ctx.transport.protocol = t;
    ctx.disposition = stages::Disposition::Answered;
    wire::Message q;
    q.question.push_back(
        {*wire::Name::from_text("example.com"), wire::rrtype::A, wire::rrclass::IN});
    ctx.query = q;
    ctx.response.emplace();
    ctx.response->set_rcode(rcode);
    ctx.rcode = rcode; // as StageRunner::finish records what it sent
    ctx.received_at = std::chrono::steady_clock::time_point(std::chrono::seconds(10));
    ctx.finished_at = ctx.received_at + std::chrono::milliseconds(3);
    return ctx;
}

bool has_line(const std::string& text, const std::string& line) {
    return text.find("\n" + line + "\n") != std::string::npos || text.rfind(line + "\n", 0) == 0;
}

/// An upstream that completes every send at once with what it is told.
class ScriptedUpstream final : public resolver::upstream::Upstream {
public:
    explicit ScriptedUpstream(std::string url) : url_(std::move(url)) {}
    void send(std::vector<std::uint8_t>, resolver::upstream::Completion done) override {
        if (fail_with) {
            done(resolver::fail(*fail_with, "scripted failure"));
            return;
        }
        done(resolver::upstream::Exchange{});
    }
    [[nodiscard]] const std::string& url() const override { return url_; }
    std::optional<Errc> fail_with;

private:
    std::string url_;
};
} // namespace

TEST_CASE("exposition: HELP/TYPE once, escaped label values, cumulative histogram buckets") {
    telemetry::Exposition e;
    e.family("x_total", "counter", "a\\b\nc");
    e.sample("x_total", {{"k", "q\"u\\o\nte"}}, std::uint64_t{7});
    telemetry::Histogram h;
    h.observe(0.0001); // on a bound: counted in that bucket (le is inclusive)
    h.observe(0.003);
    h.observe(60);
    e.family("t_seconds", "histogram", "t");
    e.histogram("t_seconds", {{"p", "udp"}}, h);
    const std::string s = e.take();
    CHECK(s.rfind("# HELP x_total a\\\\b\\nc\n# TYPE x_total counter\n", 0) == 0);
    CHECK(has_line(s, "x_total{k=\"q\\\"u\\\\o\\nte\"} 7"));
    CHECK(has_line(s, "t_seconds_bucket{p=\"udp\",le=\"1e-04\"} 1"));
    CHECK(has_line(s, "t_seconds_bucket{p=\"udp\",le=\"0.0025\"} 1"));
    CHECK(has_line(s, "t_seconds_bucket{p=\"udp\",le=\"0.005\"} 2"));
    CHECK(has_line(s, "t_seconds_bucket{p=\"udp\",le=\"5\"} 2"));
    CHECK(has_line(s, "t_seconds_bucket{p=\"udp\",le=\"+Inf\"} 3"));
    CHECK(has_line(s, "t_seconds_count{p=\"udp\"} 3"));
    CHECK(has_line(s, "t_seconds_sum{p=\"udp\"} 60.0031"));
}

TEST_CASE("MetricsObserver counts by transport, rcode, decision, location and FORMERR reason") {
    telemetry::MetricsObserver m;
    auto udp_ok = answered(net::Transport::Udp, wire::rcode::NoError);
    resolver::policy::Evaluation blocked;
    blocked.decision = resolver::policy::ResolverDecision::BlockedByQueryName;
    udp_ok.evaluation = std::make_shared<const resolver::policy::Evaluation>(blocked);
    resolver::attribution::Location office;
    office.name = "Office";
    udp_ok.location.location = &office;
    m.on_client_response(udp_ok, {});
    m.on_client_response(udp_ok, {});
    auto doh_nx = answered(net::Transport::Https, wire::rcode::NxDomain);
    m.on_client_response(doh_nx, {});
    auto unparseable = answered(net::Transport::Tcp, wire::rcode::FormErr);
    unparseable.query.reset();
    m.on_client_response(unparseable, {});
    auto two_questions = answered(net::Transport::Tcp, wire::rcode::FormErr);
    two_questions.query->question.push_back(two_questions.query->question[0]);
    m.on_client_response(two_questions, {});
    auto dropped = answered(net::Transport::Tls, 0);
    dropped.disposition = stages::Disposition::Dropped;
    m.on_client_response(dropped, {});

    const auto& s = m.stats();
    CHECK(s.answered[0][wire::rcode::NoError] == 2);
    CHECK(s.answered[3][wire::rcode::NxDomain] == 1);
    CHECK(s.answered[1][wire::rcode::FormErr] == 2);
    CHECK(s.dropped[2] == 1);
    CHECK(s.decisions[2] == 2); // blockedByQueryName
    CHECK(s.locations.at("Office") == 2);
    CHECK(s.locations.at("") == 4);
    CHECK(s.formerr[0] == 1); // unparseable
    CHECK(s.formerr[1] == 1); // qdcount
    CHECK(s.duration[0].count() == 2);
    CHECK(s.duration[0].sum == doctest::Approx(0.006));

    telemetry::Scrape scrape;
    scrape.queries = s;
    const std::string text = telemetry::render(scrape, "test");
    CHECK(has_line(text, "dnslab_queries_total{protocol=\"udp\",rcode=\"NOERROR\"} 2"));
    CHECK(has_line(text, "dnslab_queries_total{protocol=\"https\",rcode=\"NXDOMAIN\"} 1"));
    CHECK(has_line(text, "dnslab_resolver_decisions_total{decision=\"blockedByQueryName\"} 2"));
    CHECK(has_line(text, "dnslab_location_queries_total{location=\"Office\"} 2"));
    CHECK(has_line(text, "dnslab_formerr_total{reason=\"qdcount\"} 1"));
    CHECK(has_line(text, "dnslab_queries_unanswered_total{protocol=\"tls\"} 1"));
}

TEST_CASE("MeteredUpstream counts per server: queries, timeouts, errors, latency of answers") {
    resolver::core::ManualClock clock;
    telemetry::UpstreamMetrics metrics;
    auto inner = std::make_unique<ScriptedUpstream>("udp://127.0.0.1:5300");
    ScriptedUpstream* script = inner.get();
    telemetry::MeteredUpstream up(std::move(inner), metrics, clock);
    int completions = 0;
    auto count = [&](Result<resolver::upstream::Exchange>) { ++completions; };
    up.send({}, count);
    script->fail_with = Errc::UpstreamTimeout;
    up.send({}, count);
    script->fail_with = Errc::UpstreamFailure;
    up.send({}, count);
    CHECK(completions == 3);
    const auto& s = metrics.all().at("udp://127.0.0.1:5300");
    CHECK(s.queries == 3);
    CHECK(s.timeouts == 1);
    CHECK(s.errors == 1);
    CHECK(s.in_flight == 0);
    CHECK(s.duration.count() == 1);
}

TEST_CASE("MetricsRegistry merges every loop's source and refuses one from another loop") {
    uv_loop_t serving{}, other{};
    REQUIRE(uv_loop_init(&serving) == 0);
    REQUIRE(uv_loop_init(&other) == 0);
    telemetry::MetricsRegistry reg(&serving, "1.2.3");
    telemetry::UpstreamStats a;
    a.queries = 2;
    auto source = [&](telemetry::Scrape& s) {
        s.pipeline.received += 5;
        s.upstreams["udp://192.0.2.1:53"].merge(a);
    };
    REQUIRE(reg.add(&serving, source));
    REQUIRE(reg.add(&serving, source)); // a second loop's counters, same shape
    auto refused = reg.add(&other, source);
    CHECK_FALSE(refused);
    const auto s = reg.collect();
    CHECK(s.pipeline.received == 10);
    CHECK(s.upstreams.at("udp://192.0.2.1:53").queries == 4);
    const std::string text = reg.render();
    CHECK(has_line(text, "dnslab_build_info{version=\"1.2.3\"} 1"));
    CHECK(has_line(text, "dnslab_received_total 10"));
    CHECK(has_line(text, "dnslab_upstream_queries_total{upstream=\"udp://192.0.2.1:53\"} 4"));
    CHECK(text.find("dnslab_dnstap") == std::string::npos); // off: not reported
    uv_loop_close(&serving);
    uv_loop_close(&other);
}
