// SPDX-License-Identifier: MIT
#pragma once
#include <nlohmann/json.hpp>

#include "probes/matrix/run.hpp"
#include "probes/report/document.hpp"

namespace probes::matrix {

struct ViewOptions {
    /// dig +short: only the answer data, one block per agreement class, no latency.
    bool short_answers = false;
};

/// The `--json` document, schema "dnslab.probe.v1" (docs/probe.md).
nlohmann::json to_json(const MatrixReport& r);

/// The report for every format: per question its agreement classes with dig-like records,
/// the first difference, sinkhole labels, notes and level; then one latency table for the
/// run and the summary line "N questions: N identical, N equivalent, N differ". JUnit: one
/// test case per question, failing when the targets differ.
report::Document to_document(const MatrixReport& r, const ViewOptions& view = {});

} // namespace probes::matrix
