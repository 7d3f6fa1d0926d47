// SPDX-License-Identifier: MIT
#pragma once
#include <nlohmann/json.hpp>

#include "probes/check/run.hpp"
#include "probes/report/document.hpp"

namespace probes::check {

/// `--json` for check: schema "dnslab.probe.check.v1" (docs/probe.md).
nlohmann::json check_json(const CheckReport& r);

/// The report for every format: one PASS/FAIL line per case and target with the reasons,
/// the location the lab attributed (when its log was read), the records of failed cases,
/// and "N passed, N failed". JUnit: one test case per case and target.
report::Document to_document(const CheckReport& r);

} // namespace probes::check
