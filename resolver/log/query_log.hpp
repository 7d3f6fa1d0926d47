// SPDX-License-Identifier: MIT
#pragma once
#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "resolver/core/result.hpp"

namespace resolver::log {

/// Line-oriented log sink (JSON lines). `write()` only appends to a memory buffer under a
/// short lock, so the loop never waits on the disk; a writer thread flushes every 200 ms or
/// at 64 KiB. `flush()` blocks until everything written so far is on disk (used at stop).
class QueryLog {
public:
    /// `path` is a file (appended) or "-" for stdout.
    static Result<std::unique_ptr<QueryLog>> open(const std::string& path);
    /// The process's stderr (not closed at the end): the event log's default.
    static std::unique_ptr<QueryLog> to_stderr();
    ~QueryLog();
    QueryLog(const QueryLog&) = delete;
    QueryLog& operator=(const QueryLog&) = delete;

    /// Appends one line (a newline is added). Thread-safe.
    void write(std::string_view line);
    /// Writes out the buffer now and waits for it.
    void flush();
    [[nodiscard]] std::uint64_t lines_written() const;

private:
    explicit QueryLog(std::FILE* f, bool owned);
    void run();

    std::FILE* file_;
    bool owned_;
    mutable std::mutex mu_;
    std::condition_variable wake_;
    std::condition_variable flushed_;
    std::string pending_;
    std::uint64_t generation_ = 0; // bumped per write; flush waits for its generation
    std::uint64_t written_generation_ = 0;
    std::uint64_t lines_ = 0;
    bool stopping_ = false;
    std::thread writer_; // last: started after every member above exists
};

} // namespace resolver::log
