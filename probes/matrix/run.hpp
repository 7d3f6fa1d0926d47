// SPDX-License-Identifier: MIT
#pragma once
#include <string>
#include <vector>

#include "probes/common/pcap.hpp"
#include "probes/common/query.hpp"
#include "probes/common/targets.hpp"
#include "probes/compare/diff.hpp"
#include "probes/matrix/engine.hpp"

namespace probes::matrix {

/// Normalises one exchange outcome for `target` (wire or DoH JSON; HTTP status and
/// content type checked against RFC 8484 §6 / the JSON API).
compare::Observation observe(const common::Target& target, const Outcome& outcome);

/// Latency figures over the passes of one (question, target).
struct Latency {
    std::vector<double> connect_ms; // 0 when the connection was reused
    std::vector<double> query_ms;
    std::vector<bool> reused;
    double p50 = 0, p95 = 0, max = 0; // of query_ms over the answered passes
};
/// Nearest-rank percentile of `values` (0 when empty); `p` in [0, 100].
double percentile(std::vector<double> values, double p);

struct QuestionReport {
    common::QuestionSpec question;
    std::vector<compare::Observation> observations; // first (cold) pass, one per target
    compare::Comparison comparison;
    std::vector<Latency> latency;         // one per target
    std::vector<std::string> instability; // later passes that differ from the first
};

struct MatrixReport {
    std::vector<common::Target> targets;
    std::vector<QuestionReport> questions;
    unsigned repeat = 1;
    [[nodiscard]] bool all_agree() const;
};

/// Records every exchanged message into `pcap` (when not null): the query from a
/// synthetic client endpoint (loopback of the server's family, port 40000 + target
/// index) to the server, and the answer back.
void record_pcap(common::PcapWriter* pcap, std::size_t target_index, const common::Target& target,
                 const std::vector<std::uint8_t>& query, const Outcome& outcome);

/// Asks every question of every target, `repeat` times (pass 1 cold, then warm passes
/// that reuse connections), and compares the first pass.
MatrixReport run_matrix(Engine& engine, const std::vector<common::Target>& targets,
                        const std::vector<common::QuestionSpec>& questions,
                        const common::QueryOptions& qopts, const compare::CompareOptions& copts,
                        unsigned repeat, common::PcapWriter* pcap);

} // namespace probes::matrix
