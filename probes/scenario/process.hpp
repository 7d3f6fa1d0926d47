// SPDX-License-Identifier: MIT
#pragma once
#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include <sys/types.h>

#include "resolver/core/result.hpp"

namespace probes::scenario {

/// A child process (a dnslab-resolver the scenario runner started). stdout and stderr go to
/// files; the destructor stops it (SIGTERM, then SIGKILL after a bounded wait), so no path
/// out of the runner leaves a resolver behind.
class Process {
public:
    /// Starts `argv` (argv[0] is a path) in `cwd`, output appended to `log_file`.
    static resolver::Result<Process> spawn(const std::vector<std::string>& argv,
                                           const std::filesystem::path& cwd,
                                           const std::filesystem::path& log_file);
    Process() = default;
    Process(Process&& o) noexcept : pid_(o.pid_), status_(o.status_) { o.pid_ = -1; }
    Process& operator=(Process&& o) noexcept;
    Process(const Process&) = delete;
    Process& operator=(const Process&) = delete;
    ~Process() { stop(); }

    /// True while the child runs (reaps it when it has exited).
    bool running();
    /// SIGTERM, wait up to `grace`, then SIGKILL. Returns the exit status (-1 when killed).
    int stop(std::chrono::milliseconds grace = std::chrono::milliseconds(3000));
    [[nodiscard]] pid_t pid() const noexcept { return pid_; }

private:
    pid_t pid_ = -1;
    int status_ = -1;
};

/// Waits (bounded) until `ready_file` exists and ends with a newline (the resolver writes it
/// atomically once every listener is up). Fails early when the process exits.
resolver::Result<std::vector<std::string>>
wait_ready(Process& p, const std::filesystem::path& ready_file, std::chrono::milliseconds timeout);

} // namespace probes::scenario
