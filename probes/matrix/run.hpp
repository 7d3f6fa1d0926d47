// SPDX-License-Identifier: MIT
#pragma once
#include <string>
#include <vector>

#include "probes/common/pcap.hpp"
#include "probes/common/query.hpp"
#include "probes/common/targets.hpp"
#include "probes/compare/diff.hpp"
#include "probes/session/session.hpp"

namespace probes::matrix {

/// Latency figures over the passes of one (question, target), or over every question of a
/// run for one target.
struct Latency {
    std::vector<double> connect_ms; // 0 when the connection was reused
    std::vector<double> query_ms;
    std::vector<bool> reused;
    double p50 = 0, p95 = 0, max = 0; // of query_ms over the answered passes (report::percentile)

    /// Fills p50, p95 and max from query_ms.
    void summarise();
};

struct QuestionReport {
    common::QuestionSpec question;
    std::vector<compare::Observation> observations; // first (cold) pass, one per target
    compare::Comparison comparison;
    std::vector<Latency> latency;         // one per target
    std::vector<std::string> instability; // later passes that differ from the first
};

/// The results of one probe run: every question asked of every target.
struct MatrixReport {
    std::vector<common::Target> targets;
    std::vector<QuestionReport> questions;
    std::vector<Latency> target_latency; // one per target, over every question and pass
    unsigned repeat = 1;
    [[nodiscard]] bool all_agree() const;
    /// Questions per comparison level ("identical", "equivalent", "differ", "all-failed").
    [[nodiscard]] std::size_t count(const std::string& level) const;
};

/// Asks every question of every target through `session`, `repeat` times (pass 1 cold,
/// then warm passes that reuse connections), records every exchange into `pcap` (when not
/// null) and compares the first pass.
MatrixReport run_matrix(session::ProbeSession& session, const std::vector<common::Target>& targets,
                        const std::vector<common::QuestionSpec>& questions,
                        const common::QueryOptions& qopts, const compare::CompareOptions& copts,
                        unsigned repeat, common::PcapWriter* pcap);

} // namespace probes::matrix
