// SPDX-License-Identifier: MIT
#pragma once
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "probes/scenario/process.hpp"
#include "resolver/core/result.hpp"

namespace probes::scenario {

/// A second dnslab-resolver a scenario starts before the lab (a private resolver behind a
/// resolver policy, a DoT server with a bad certificate, a UDP-only upstream ...).
struct Helper {
    std::string name;
    std::string config_toml; // the `[[helper]]` table minus `name`: a dnslab-resolver --config
};

/// A scenario folder (format: docs/scenarios.md), loaded from `scenario.toml`.
struct Scenario {
    std::filesystem::path dir;  // the folder given (absolute)
    std::filesystem::path root; // the folder copied to the work dir: `dir`, or its parent for a
                                // variant such as `fixed/` whose parent is a scenario too
    std::string name;           // folder name (`parent/fixed` for a variant)
    std::string description;
    std::string lab_toml;        // `[lab]`: the lab resolver's --config
    nlohmann::json behaviour;    // `[lab.behaviour]` as JSON ({} when absent)
    std::vector<Helper> helpers; // started in order; later ones may use earlier placeholders
    std::vector<std::string> transports{"udp", "tcp", "tls", "https-get", "https-post"};
    std::string expect = "expect.toml";
    unsigned timeout_ms = 3000; // probe per-attempt timeout
};

/// Loads DIR/scenario.toml. Errors name the file and key.
resolver::Result<Scenario> load_scenario(const std::filesystem::path& dir);

/// Replaces `${upstream.NAME[.FIELD]}` placeholders with the facts of started helpers
/// (`facts` maps "NAME" and "NAME.FIELD" to text). `${...}` not in the map is an error.
resolver::Result<std::string> substitute(const std::string& text,
                                         const std::map<std::string, std::string>& facts);

/// The facts of a helper from its ready-file lines: NAME (first URL), NAME.udp/.tcp/.tls/
/// .https (URLs), NAME.addr (IP:PORT of the first listener), NAME.host, NAME.port, NAME.ca.
void add_helper_facts(const std::string& name, const std::vector<std::string>& ready,
                      std::map<std::string, std::string>& facts);

struct StartOptions {
    std::string resolver_bin; // dnslab-resolver to start
    bool keep = false;        // keep the work directory (printed on stderr)
    std::chrono::milliseconds ready_timeout{15000};
    std::vector<std::string> extra_lab_args; // appended to the lab's command line (replay)
    bool listen_dot_doh = true;              // DoT and DoH listeners besides UDP and TCP
};

/// The started scenario: helpers and the lab resolver on ephemeral loopback ports, running
/// from a temporary copy of the scenario with every placeholder resolved. Destroying it
/// stops every process (SIGTERM, bounded, then SIGKILL) and removes the copy.
struct Lab {
    std::filesystem::path work;     // the temporary directory
    std::filesystem::path cwd;      // the scenario folder's copy
    std::filesystem::path log;      // the lab's gateway_dns JSON lines
    std::filesystem::path events;   // the lab's LabEvent lines (--event-log)
    std::vector<std::string> ready; // the lab's ready-file lines
    std::map<std::string, std::string> facts;
    std::vector<Process> procs; // helpers first, the lab last
    bool keep = false;
    std::string ca;                        // the lab CA (for DoT/DoH targets)
    std::map<std::string, unsigned> ports; // udp, tcp, tls, https -> port

    Lab() = default;
    Lab(const Lab&) = delete;
    Lab& operator=(const Lab&) = delete;
    ~Lab();
    /// Stops every process, the lab first (so its log is flushed). Idempotent.
    void stop();
    /// The lab's query records, or with `events` its LabEvent lines (policy-loaded, reloads),
    /// read after stop().
    [[nodiscard]] std::vector<nlohmann::json> records(bool events = false) const;
};

resolver::Result<std::unique_ptr<Lab>> start_lab(const Scenario& s, const StartOptions& o);

/// Default dnslab-resolver: $DNSLAB_RESOLVER, else next to this executable in the build
/// tree (../resolver/dnslab-resolver) or install (./dnslab-resolver), else from PATH.
std::string default_resolver_bin();

struct RunOptions {
    StartOptions start;
    bool json = false;
    bool color = false;
    std::string junit;                   // also write JUnit XML here
    std::string html;                    // also write the HTML report here
    std::vector<std::string> reports;    // --report FORMAT=FILE
    std::vector<std::string> transports; // overrides the scenario's
};

/// `scenario run DIR`: start, run the expectations over every transport, print, stop.
/// Returns the probe's exit codes: 0 pass, 1 expectation failed, 2 could not run.
int run_scenario(const std::filesystem::path& dir, const RunOptions& o);

/// `scenario new DIR`: writes a skeleton that `scenario run DIR` passes as written:
/// scenario.toml (the lab on the `fixture:` upstream of answers.txt), expect.toml with one
/// case, answers.txt, empty rules/lists/locations exports and a README.md with the
/// "Reproduces:" line. DIR may exist only when empty; nothing is written into a non-empty
/// one. Returns the files written, in order.
resolver::Result<std::vector<std::string>> new_scenario(const std::filesystem::path& dir,
                                                        const std::string& description);

struct PackedFile {
    std::string path; // relative to the scenario folder, '/' separated
    std::string data;
};

/// `scenario pack DIR -o FILE`: every file of the folder plus manifest.json (schema
/// dnslab.scenario.pack.v1: versions, behaviour in force, sha256 per file) as one tar.gz.
/// `behaviour` comes from the lab's policy-loaded LabEvent when `probe_behaviour` can start
/// it, else from the scenario config.
resolver::Status pack_scenario(const std::filesystem::path& dir, const std::filesystem::path& out,
                               const StartOptions& start, bool probe_behaviour,
                               std::string& summary);

/// `scenario unpack FILE [-C DIR]`: verifies every hash against the manifest (a tampered,
/// missing, extra or unsafe path is refused before anything is written) and writes the
/// folder under DIR. Returns the folder written.
resolver::Result<std::filesystem::path> unpack_scenario(const std::filesystem::path& archive,
                                                        const std::filesystem::path& dest);

/// Exposed for tests: gunzip, ustar reading, sha256 hex.
resolver::Result<std::string> gunzip(const std::string& gz);
resolver::Result<std::vector<PackedFile>> read_tar(const std::string& tar);
std::string sha256_hex(const std::string& data);

} // namespace probes::scenario
