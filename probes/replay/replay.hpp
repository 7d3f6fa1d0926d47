// SPDX-License-Identifier: MIT
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "probes/report/document.hpp"
#include "probes/scenario/scenario.hpp"
#include "resolver/core/result.hpp"

namespace probes::replay {

/// One query of a gateway_dns export (JSON lines as Logpush writes them), reduced to what the
/// replay asks again and what it compares.
struct LogRecord {
    std::size_t line = 0;    // 1-based line in the log file
    std::string qname;       // QueryName, lower case, no trailing dot
    std::uint16_t qtype = 1; // QueryType, else QueryTypeName
    std::string protocol;    // udp, tcp, tls, https (Protocol; "doh"/"dot" accepted)
    std::string src_ip;      // SrcIP (not spoofable on loopback: see docs/replay.md)
    std::string doh_subdomain, dot_subdomain, location, location_id;
    std::string decision;                  // ResolverDecision
    std::string policy_id;                 // PolicyID
    std::optional<int> rcode;              // RCode
    std::vector<std::string> resolved_ips; // ResolvedIPs
    std::vector<std::uint32_t> categories; // QueryCategoryIDs
};

/// "udp", "tcp", "tls" or "https" for a logged Protocol ("doh", "dot", "http" accepted).
std::string normalise_protocol(std::string protocol);

/// Origins of the fixture zones in `dir` (`$ORIGIN`, else the file name), lower case.
std::vector<std::string> zone_origins(const std::filesystem::path& dir);

/// Parses one JSON line. Lines that are LabEvent lines or have no QueryName give nullopt.
std::optional<LogRecord> parse_record(const std::string& line, std::size_t line_no,
                                      std::string& error);

/// The lab facts the replay synthesises from the log where the scenario has no data:
/// a categories CSV (scenario rows first, then `name,ids` for names the scenario does not
/// categorise) and fixture zones answering each logged name with its ResolvedIPs, for names
/// outside the scenario's own zones. Pure: returns file contents.
struct Synthesised {
    std::string categories_csv;
    std::map<std::string, std::string> zone_files; // file name -> zone text
    std::size_t categorised_names = 0, answered_names = 0;
};
Synthesised synthesise(const std::vector<LogRecord>& recs,
                       const std::string& scenario_categories_csv,
                       const std::vector<std::string>& scenario_zone_origins);

/// The location hint a record is re-asked with: DoHSubdomain, DoTSubdomain, else the
/// doh_subdomain of its Location/LocationID in the scenario's locations export.
std::string location_hint(const LogRecord& r,
                          const std::map<std::string, std::string>& subdomain_by_location);

/// Comparison of one record with the lab's answer and log line.
struct Verdict {
    bool decision_ok = true, policy_ok = true, answer_ok = true, rcode_ok = true;
    std::string lab_decision, lab_policy_id, error;
    std::vector<std::string> lab_ips;
    std::optional<int> lab_rcode;
    // The exchange's timing, when the lab answered (for the latency chart).
    bool timed = false, reused = false;
    double connect_ms = 0, query_ms = 0;
    [[nodiscard]] bool agree() const {
        return error.empty() && decision_ok && policy_ok && answer_ok && rcode_ok;
    }
};

/// Key under which the lab's log line of a record is found: name, type, protocol, hint.
std::string match_key(const std::string& qname, std::uint16_t qtype, const std::string& protocol,
                      const std::string& hint);

/// The results of one replay: every record with the lab's verdict, and the totals.
struct ReplayReport {
    std::string scenario;
    std::string logfile;
    Synthesised synthesised;
    std::vector<LogRecord> records;
    std::vector<Verdict> verdicts;                // one per record
    std::map<std::string, std::size_t> decisions; // "log decision -> lab decision" counts
    std::size_t agree = 0, decision_differs = 0, policy_differs = 0, answer_differs = 0,
                rcode_differs = 0, errors = 0;
    double ask_seconds = 0, total_seconds = 0;
    std::string mode;               // "in-process" (the stage runner) or "child-resolver"
    std::string why_child_resolver; // why not in process ("" when it was)

    /// Counts the verdicts into the totals above.
    void tally();
    [[nodiscard]] int exit_code() const { return agree == records.size() ? 0 : 1; }
};

/// The `--json` document, schema "dnslab.replay.v1" (docs/replay.md).
nlohmann::json replay_json(const ReplayReport& r);
/// The report for every format: the totals, decisions log -> lab, the first 50 disagreeing
/// records, latency per protocol (a chart). JUnit: one test case per record.
report::Document to_document(const ReplayReport& r);

struct Options {
    scenario::StartOptions start;
    std::filesystem::path logfile, scenario;
    bool json = false;
    std::string junit;                // also write JUnit XML here
    std::string html;                 // also write the HTML report here
    std::vector<std::string> reports; // --report FORMAT=FILE
    unsigned concurrency = 128, limit = 0, timeout_ms = 3000;
    std::string protocol;        // force one protocol
    bool child_resolver = false; // ask a child dnslab-resolver even when in process would do
};

/// `dnslab-probe replay LOGFILE --scenario DIR`: read the log, gather the scenario's facts,
/// synthesise what the log implies, start the lab, ask, read the lab's log, compare, render.
/// Exit 0: every record agrees; 1: some disagree; 2: could not run.
int run_replay(const Options& o);

} // namespace probes::replay
