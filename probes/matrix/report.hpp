// SPDX-License-Identifier: MIT
#pragma once
#include <string>

#include <nlohmann/json.hpp>

#include "probes/compare/observation.hpp"
#include "probes/matrix/run.hpp"

namespace probes::matrix {

/// Readable per-question report for terminals: agreement classes with dig-like records
/// (ldns), the first difference, sinkhole labels, notes, verdict and latency.
/// `color` adds ANSI colours (the caller decides: tty and no --no-color).
std::string render_table(const MatrixReport& r, bool color);

/// The `--json` document, schema "dnslab.probe.v1" (docs/probe.md).
nlohmann::json to_json(const MatrixReport& r);

/// One observation as JSON (shared with `check`).
nlohmann::json observation_json(const compare::Observation& o);

/// JUnit XML: one testcase per question, failing when targets disagree.
std::string to_junit(const MatrixReport& r);

/// XML attribute/text escaping.
std::string xml_escape(const std::string& s);

/// dig-like record lines for an observation (ldns for wire answers, RRset text for JSON).
std::vector<std::string> record_lines(const compare::Observation& o);

} // namespace probes::matrix
