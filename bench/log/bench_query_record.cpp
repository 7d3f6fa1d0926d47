// SPDX-License-Identifier: MIT
// Query-log rendering benchmark: render_query_record for a typical allowed answer (CNAME
// chain + two addresses, categories, geo, identity map) from the sample export. The record
// is built on the loop thread for every query, so its cost is part of every answer.
// Prints ns per record and bytes per record. Usage: bench_query_record [records]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <string>

#include "resolver/log/query_record.hpp"
#include "resolver/policy/load.hpp"
#include "resolver/wire/message.hpp"

using namespace resolver;

namespace {

double cpu_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

std::string slurp(const std::string& p) {
    std::ifstream in(p);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

wire::ResourceRecord rr(const char* owner, std::uint16_t type, std::string rdata) {
    wire::ResourceRecord r;
    r.name = *wire::Name::from_text(owner);
    r.type = type;
    r.ttl = 300;
    r.rdata = std::move(rdata);
    return r;
}

} // namespace

int main(int argc, char** argv) {
    const std::size_t n = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 200000;
    const std::string fx = std::string(DNSLAB_SOURCE_ROOT) + "/fixtures/";
    policy::PolicyTexts t;
    t.rules = slurp(fx + "policy/rules.json");
    t.lists = slurp(fx + "policy/lists.json");
    t.locations = slurp(fx + "policy/locations.json");
    t.categories = slurp(fx + "categories/categories.csv");
    t.geo = slurp(fx + "geo/geo.csv");
    t.identities = R"([{"source_ip": "127.0.0.0/8", "email": "ada@example.com",
                        "user_id": "u-1", "device_id": "d-1", "device_name": "Laptop"}])";
    auto set = policy::load_policy_texts(t);
    if (!set) {
        std::fprintf(stderr, "%s\n", set.error().detail.c_str());
        return 1;
    }
    auto snap = std::make_shared<stages::PolicySnapshot>();
    snap->set = *set;
    stages::QueryContext ctx;
    ctx.id = 42;
    ctx.policy = snap;
    ctx.transport.src = {"127.0.0.1", 40000};
    ctx.transport.dst = {"127.0.0.1", 53};
    ctx.src_ip = net::IpAddr::parse("127.0.0.1");
    ctx.query.emplace();
    ctx.query->question.push_back({*wire::Name::from_text("cdn.example.com"), 1, 1});
    ctx.qname_text = "cdn.example.com";
    ctx.facts.qname = ctx.qname_text;
    ctx.facts.src_ip = ctx.src_ip;
    ctx.evaluation = std::make_shared<policy::Evaluation>(
        policy::evaluate_pre(**set, ctx.facts, snap->behaviour, {}));
    wire::Message resp;
    resp.question = ctx.query->question;
    const std::string target = wire::Name::from_text("edge.example.net")->wire();
    resp.answer = {rr("cdn.example.com", 5, target),
                   rr("edge.example.net", 1, std::string("\xc0\x00\x02\x0a", 4)),
                   rr("edge.example.net", 1, std::string("\xcb\x00\x71\x09", 4))};
    ctx.response = resp;
    ctx.upstream_ttls = {300, 300, 300};
    ctx.initial_resolved_ips = {*net::IpAddr::parse("192.0.2.10"),
                                *net::IpAddr::parse("203.0.113.9")};
    ctx.disposition = stages::Disposition::Answered;

    std::size_t bytes = 0;
    const double c0 = cpu_seconds();
    const auto w0 = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < n; ++i) {
        bytes += log::render_query_record(ctx).size();
    }
    const double cpu = cpu_seconds() - c0;
    const double wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - w0).count();
    std::printf(
        "render_query_record: %zu records, %.0f ns/record CPU (%.0f wall), %zu bytes/record\n", n,
        cpu * 1e9 / static_cast<double>(n), wall * 1e9 / static_cast<double>(n), bytes / n);
    return 0;
}
