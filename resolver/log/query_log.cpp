// SPDX-License-Identifier: MIT
#include "resolver/log/query_log.hpp"

#include <cerrno>
#include <cstring>

namespace resolver::log {

Result<std::unique_ptr<QueryLog>> QueryLog::open(const std::string& path) {
    if (path == "-") {
        return std::unique_ptr<QueryLog>(new QueryLog(stdout, false));
    }
    std::FILE* f = std::fopen(path.c_str(), "a");
    if (f == nullptr) {
        return fail(Errc::ConfigInvalid, "log file '" + path + "': " + std::strerror(errno));
    }
    return std::unique_ptr<QueryLog>(new QueryLog(f, true));
}

std::unique_ptr<QueryLog> QueryLog::to_stderr() {
    return std::unique_ptr<QueryLog>(new QueryLog(stderr, false));
}

QueryLog::QueryLog(std::FILE* f, bool owned)
    : file_(f), owned_(owned), writer_([this] { run(); }) {}

QueryLog::~QueryLog() {
    {
        std::lock_guard lk(mu_);
        stopping_ = true;
    }
    wake_.notify_all();
    writer_.join();
    if (owned_) {
        std::fclose(file_);
    } else {
        std::fflush(file_);
    }
}

void QueryLog::write(std::string_view line) {
    bool big = false;
    {
        std::lock_guard lk(mu_);
        pending_.append(line);
        pending_.push_back('\n');
        ++generation_;
        ++lines_;
        big = pending_.size() >= 64 * 1024;
    }
    if (big) {
        wake_.notify_one();
    }
}

void QueryLog::flush() {
    std::unique_lock lk(mu_);
    const auto target = generation_;
    wake_.notify_one();
    flushed_.wait(lk, [&] { return written_generation_ >= target; });
}

std::uint64_t QueryLog::lines_written() const {
    std::lock_guard lk(mu_);
    return lines_;
}

void QueryLog::run() {
    std::unique_lock lk(mu_);
    while (true) {
        wake_.wait_for(lk, std::chrono::milliseconds(200));
        std::string out;
        out.swap(pending_);
        const auto gen = generation_;
        const bool stop = stopping_;
        lk.unlock();
        if (!out.empty()) {
            std::fwrite(out.data(), 1, out.size(), file_);
        }
        std::fflush(file_);
        lk.lock();
        written_generation_ = gen;
        flushed_.notify_all();
        if (stop && pending_.empty()) {
            return;
        }
    }
}

} // namespace resolver::log
