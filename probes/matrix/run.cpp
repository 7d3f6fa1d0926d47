// SPDX-License-Identifier: MIT
#include "probes/matrix/run.hpp"

#include <algorithm>
#include <cmath>
#include <random>

#include "resolver/util/url.hpp"

namespace probes::matrix {
namespace wire = resolver::wire;

compare::Observation observe(const common::Target& target, const Outcome& outcome) {
    compare::Observation o;
    if (outcome.exchange) {
        const auto& ex = *outcome.exchange;
        const bool json = target.transport == "https-json";
        if (target.url.scheme == "https") {
            o.doh = true;
            o.http_status = ex.http_status;
            o.content_type = ex.content_type;
            const auto ct = o.content_type.substr(0, o.content_type.find(';'));
            // RFC 8484 §6: application/dns-message; the JSON API uses application/dns-json.
            o.content_type_ok = json ? (ct == "application/dns-json" || ct == "application/json")
                                     : ct == "application/dns-message";
        }
        if (o.doh && ex.http_status != 200) {
            o.error = "HTTP " + std::to_string(ex.http_status);
        } else if (json) {
            auto j = compare::normalize_json(ex.body);
            j.doh = o.doh;
            j.http_status = o.http_status;
            j.content_type = o.content_type;
            j.content_type_ok = o.content_type_ok;
            o = std::move(j);
        } else {
            auto parsed = wire::parse(ex.wire);
            if (!parsed) {
                o.error = "malformed answer: " + parsed.failure.reason;
            } else {
                auto w = compare::normalize_wire(*parsed.message);
                w.doh = o.doh;
                w.http_status = o.http_status;
                w.content_type = o.content_type;
                w.content_type_ok = o.content_type_ok;
                w.wire = ex.wire;
                o = std::move(w);
            }
        }
    } else {
        o.error = outcome.error.empty() ? "no answer" : outcome.error;
    }
    o.target = target.name;
    o.transport = target.transport;
    return o;
}

double percentile(std::vector<double> values, double p) {
    if (values.empty()) {
        return 0;
    }
    std::sort(values.begin(), values.end());
    const auto rank =
        static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(values.size())));
    return values[std::clamp<std::size_t>(rank, 1, values.size()) - 1];
}

bool MatrixReport::all_agree() const {
    return std::all_of(questions.begin(), questions.end(),
                       [](const QuestionReport& q) { return q.comparison.verdict == "agree"; });
}

namespace {
common::PacketEndpoint server_endpoint(const common::Target& t, const Outcome& o) {
    if (o.exchange && !o.exchange->server.empty()) {
        // "ip:port" or "[v6]:port" as the clients report it.
        auto s = o.exchange->server;
        if (auto r = s.rfind(':'); r != std::string::npos && s.find("://") == std::string::npos) {
            std::string host = s.substr(0, r);
            if (host.size() > 1 && host.front() == '[') {
                host = host.substr(1, host.size() - 2);
            }
            unsigned port = 0;
            try {
                port = static_cast<unsigned>(std::stoul(s.substr(r + 1)));
            } catch (...) { // NOLINT(bugprone-empty-catch): fall back to the URL below
                port = 0;
            }
            if (resolver::util::is_ip_literal(host) && port > 0 && port < 65536) {
                return {host, static_cast<std::uint16_t>(port)};
            }
        }
    }
    return {t.url.host, t.url.port_or(53)};
}
} // namespace

void record_pcap(common::PcapWriter* pcap, std::size_t target_index, const common::Target& target,
                 const std::vector<std::uint8_t>& query, const Outcome& outcome) {
    if (pcap == nullptr) {
        return;
    }
    const auto server = server_endpoint(target, outcome);
    const common::PacketEndpoint client{resolver::util::is_ipv6_literal(server.ip) ? "::1"
                                                                                   : "127.0.0.1",
                                        static_cast<std::uint16_t>(40000 + target_index % 20000)};
    pcap->write(outcome.sent_us, client, server, query);
    if (outcome.exchange && !outcome.exchange->wire.empty()) {
        pcap->write(outcome.answered_us, server, client, outcome.exchange->wire);
    }
}

MatrixReport run_matrix(Engine& engine, const std::vector<common::Target>& targets,
                        const std::vector<common::QuestionSpec>& questions,
                        const common::QueryOptions& qopts, const compare::CompareOptions& copts,
                        unsigned repeat, common::PcapWriter* pcap) {
    MatrixReport report;
    report.targets = targets;
    report.repeat = std::max(1U, repeat);
    std::random_device seed;
    std::mt19937 rng(seed());
    std::uniform_int_distribution<unsigned> ids(0, 0xFFFF);

    // all[pass][question * targets + target]
    std::vector<std::vector<Outcome>> all;
    std::vector<std::vector<std::vector<std::uint8_t>>> sent;
    for (unsigned pass = 0; pass < report.repeat; ++pass) {
        std::vector<Job> jobs;
        std::vector<std::vector<std::uint8_t>> queries;
        for (const auto& q : questions) {
            for (const auto& t : targets) {
                auto wire_q = common::build_query(q, qopts, static_cast<std::uint16_t>(ids(rng)));
                // Questions were validated by the caller; a failure here leaves an empty query
                // that the upstream rejects, reported per target.
                queries.push_back(wire_q ? std::move(wire_q).value() : std::vector<std::uint8_t>{});
                jobs.push_back(Job{t.url, queries.back()});
            }
        }
        all.push_back(engine.run(jobs));
        sent.push_back(std::move(queries));
    }
    for (unsigned pass = 0; pass < report.repeat; ++pass) {
        for (std::size_t i = 0; i < all[pass].size(); ++i) {
            record_pcap(pcap, i % targets.size(), targets[i % targets.size()], sent[pass][i],
                        all[pass][i]);
        }
    }
    for (std::size_t qi = 0; qi < questions.size(); ++qi) {
        QuestionReport qr;
        qr.question = questions[qi];
        for (std::size_t ti = 0; ti < targets.size(); ++ti) {
            const auto idx = qi * targets.size() + ti;
            qr.observations.push_back(observe(targets[ti], all[0][idx]));
            Latency lat;
            for (unsigned pass = 0; pass < report.repeat; ++pass) {
                const auto& out = all[pass][idx];
                if (out.exchange) {
                    lat.connect_ms.push_back(out.exchange->connect_ms);
                    lat.query_ms.push_back(out.exchange->query_ms);
                    lat.reused.push_back(out.exchange->reused_connection);
                }
                if (pass > 0) {
                    auto later = observe(targets[ti], out);
                    if (auto d = compare::first_difference(qr.observations.back(), later, copts)) {
                        qr.instability.push_back(
                            targets[ti].name + " pass " + std::to_string(pass + 1) +
                            " differs from pass 1 in " + d->field + ": " + d->a + " -> " + d->b);
                    }
                }
            }
            lat.p50 = percentile(lat.query_ms, 50);
            lat.p95 = percentile(lat.query_ms, 95);
            lat.max = lat.query_ms.empty()
                          ? 0
                          : *std::max_element(lat.query_ms.begin(), lat.query_ms.end());
            qr.latency.push_back(std::move(lat));
        }
        qr.comparison = compare::compare_all(qr.observations, questions[qi].type, copts);
        report.questions.push_back(std::move(qr));
    }
    return report;
}

} // namespace probes::matrix
