// SPDX-License-Identifier: MIT
#include "probes/matrix/run.hpp"

#include <algorithm>

#include "probes/report/document.hpp"
#include "probes/session/observe.hpp"

namespace probes::matrix {

void Latency::summarise() {
    p50 = report::percentile(query_ms, 50);
    p95 = report::percentile(query_ms, 95);
    max = query_ms.empty() ? 0 : *std::max_element(query_ms.begin(), query_ms.end());
}

bool MatrixReport::all_agree() const {
    return std::all_of(questions.begin(), questions.end(),
                       [](const QuestionReport& q) { return q.comparison.verdict == "agree"; });
}

std::size_t MatrixReport::count(const std::string& level) const {
    return static_cast<std::size_t>(
        std::count_if(questions.begin(), questions.end(),
                      [&](const QuestionReport& q) { return q.comparison.level == level; }));
}

namespace {

// outcomes[pass][question * targets + target] and the query bytes sent for each.
struct Passes {
    std::vector<std::vector<session::Outcome>> outcomes;
    std::vector<std::vector<std::vector<std::uint8_t>>> sent;
};

Passes ask(session::ProbeSession& session, const std::vector<common::Target>& targets,
           const std::vector<common::QuestionSpec>& questions, const common::QueryOptions& qopts,
           unsigned repeat) {
    Passes p;
    for (unsigned pass = 0; pass < repeat; ++pass) {
        std::vector<session::Job> jobs;
        std::vector<std::vector<std::uint8_t>> queries;
        for (const auto& q : questions) {
            for (const auto& t : targets) {
                auto wire_q = common::build_query(q, qopts, session.fresh_id());
                // Questions were validated by the caller; a failure here leaves an empty query
                // that the upstream rejects, reported per target.
                queries.push_back(wire_q ? std::move(wire_q).value() : std::vector<std::uint8_t>{});
                jobs.push_back(session::Job{t.url, queries.back()});
            }
        }
        p.outcomes.push_back(session.run(jobs));
        p.sent.push_back(std::move(queries));
    }
    return p;
}

void add_timing(Latency& lat, const session::Outcome& out) {
    if (out.exchange) {
        lat.connect_ms.push_back(out.exchange->connect_ms);
        lat.query_ms.push_back(out.exchange->query_ms);
        lat.reused.push_back(out.exchange->reused_connection);
    }
}

QuestionReport judge(const Passes& p, std::size_t qi, const common::QuestionSpec& question,
                     const std::vector<common::Target>& targets,
                     const compare::CompareOptions& copts, std::vector<Latency>& per_target) {
    QuestionReport qr;
    qr.question = question;
    for (std::size_t ti = 0; ti < targets.size(); ++ti) {
        const auto idx = qi * targets.size() + ti;
        qr.observations.push_back(session::observe(targets[ti], p.outcomes[0][idx]));
        Latency lat;
        for (std::size_t pass = 0; pass < p.outcomes.size(); ++pass) {
            const auto& out = p.outcomes[pass][idx];
            add_timing(lat, out);
            add_timing(per_target[ti], out);
            if (pass == 0) {
                continue;
            }
            auto later = session::observe(targets[ti], out);
            if (auto d = compare::essential_difference(qr.observations.back(), later, copts)) {
                qr.instability.push_back(targets[ti].name + " pass " + std::to_string(pass + 1) +
                                         " differs from pass 1 in " + d->field + ": " + d->a +
                                         " -> " + d->b);
            }
        }
        lat.summarise();
        qr.latency.push_back(std::move(lat));
    }
    qr.comparison = compare::compare_all(qr.observations, question.type, copts);
    return qr;
}

} // namespace

MatrixReport run_matrix(session::ProbeSession& session, const std::vector<common::Target>& targets,
                        const std::vector<common::QuestionSpec>& questions,
                        const common::QueryOptions& qopts, const compare::CompareOptions& copts,
                        unsigned repeat, common::PcapWriter* pcap) {
    MatrixReport report;
    report.targets = targets;
    report.repeat = std::max(1U, repeat);
    const auto passes = ask(session, targets, questions, qopts, report.repeat);
    for (std::size_t pass = 0; pass < passes.outcomes.size(); ++pass) {
        for (std::size_t i = 0; i < passes.outcomes[pass].size(); ++i) {
            session::record_pcap(pcap, i % targets.size(), targets[i % targets.size()],
                                 passes.sent[pass][i], passes.outcomes[pass][i]);
        }
    }
    report.target_latency.resize(targets.size());
    for (std::size_t qi = 0; qi < questions.size(); ++qi) {
        report.questions.push_back(
            judge(passes, qi, questions[qi], targets, copts, report.target_latency));
    }
    for (auto& lat : report.target_latency) {
        lat.summarise();
    }
    return report;
}

} // namespace probes::matrix
