// SPDX-License-Identifier: MIT
#include "probes/scenario/process.hpp"

#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace probes::scenario {
using resolver::Errc;
using resolver::fail;

resolver::Result<Process> Process::spawn(const std::vector<std::string>& argv,
                                         const std::filesystem::path& cwd,
                                         const std::filesystem::path& log_file) {
    if (argv.empty()) {
        return fail(Errc::ConfigInvalid, "empty command");
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, log_file.c_str(),
                                     O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, STDOUT_FILENO, STDERR_FILENO);
    posix_spawn_file_actions_addchdir_np(&fa, cwd.c_str());
    std::vector<char*> args;
    for (const auto& a : argv) {
        args.push_back(const_cast<char*>(a.c_str()));
    }
    args.push_back(nullptr);
    Process p;
    const int rc = posix_spawn(&p.pid_, argv[0].c_str(), &fa, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        p.pid_ = -1;
        return fail(Errc::ConfigInvalid, "cannot start " + argv[0] + ": " + std::strerror(rc));
    }
    return p;
}

Process& Process::operator=(Process&& o) noexcept {
    if (this != &o) {
        stop();
        pid_ = o.pid_;
        status_ = o.status_;
        o.pid_ = -1;
    }
    return *this;
}

bool Process::running() {
    if (pid_ <= 0) {
        return false;
    }
    int st = 0;
    if (waitpid(pid_, &st, WNOHANG) == pid_) {
        status_ = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        pid_ = -1;
        return false;
    }
    return true;
}

int Process::stop(std::chrono::milliseconds grace) {
    if (pid_ <= 0) {
        return status_;
    }
    kill(pid_, SIGTERM);
    const auto deadline = std::chrono::steady_clock::now() + grace;
    while (std::chrono::steady_clock::now() < deadline) {
        if (!running()) {
            return status_;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    kill(pid_, SIGKILL);
    int st = 0;
    waitpid(pid_, &st, 0);
    pid_ = -1;
    status_ = -1;
    return status_;
}

resolver::Result<std::vector<std::string>>
wait_ready(Process& p, const std::filesystem::path& ready_file, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        std::ifstream in(ready_file);
        if (in) {
            std::ostringstream s;
            s << in.rdbuf();
            const std::string text = s.str();
            if (!text.empty() && text.back() == '\n') {
                std::vector<std::string> lines;
                std::istringstream ls(text);
                for (std::string l; std::getline(ls, l);) {
                    if (!l.empty()) {
                        lines.push_back(l);
                    }
                }
                return lines;
            }
        }
        if (!p.running()) {
            return fail(Errc::ConfigInvalid, "exited before it was ready");
        }
        // The resolver has no other ready signal than the file; poll it, bounded.
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return fail(Errc::UpstreamTimeout,
                "not ready within " + std::to_string(timeout.count()) + " ms");
}

} // namespace probes::scenario
