// SPDX-License-Identifier: MIT
#pragma once
#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>

#include <zlib.h>

#include "resolver/core/result.hpp"
#include "resolver/util/c_handles.hpp"

namespace probes::common {

/// Reads a text file one line at a time, gzip-compressed or not, as Logpush delivers its
/// files (JSON lines, `*.log.gz`). gzip is recognised by its magic bytes (RFC 1952 §2.3.1:
/// 0x1f 0x8b), not by the file name; concatenated gzip members read as one stream. Memory
/// stays bounded by the longest line, which may be at most `max_line` bytes.
///
/// Errors are values: open() fails for an unreadable file; next() returns nullopt at the end
/// and, for a corrupt or truncated gzip stream or an over-long line, also sets error()
/// (naming the file and line), so a damaged export is never read as if it were complete.
class LineReader {
public:
    static constexpr std::size_t kDefaultMaxLine = std::size_t{64} << 20;

    static resolver::Result<LineReader> open(const std::filesystem::path& path,
                                             std::size_t max_line = kDefaultMaxLine);

    /// The next line without its "\n" (and a "\r" before it); nullopt at the end or on error.
    std::optional<std::string> next();
    /// Why reading stopped early; "" after a clean end of file.
    [[nodiscard]] const std::string& error() const noexcept { return error_; }
    /// The file is gzip-compressed.
    [[nodiscard]] bool compressed() const noexcept { return compressed_; }
    /// Lines returned so far.
    [[nodiscard]] std::size_t line_number() const noexcept { return lines_; }

private:
    using GzFile = resolver::util::CHandle<gzFile_s, gzclose>;
    LineReader(GzFile file, std::string name, bool compressed, std::size_t max_line)
        : file_(std::move(file)), name_(std::move(name)), compressed_(compressed),
          max_line_(max_line) {}
    bool fill(); // reads the next chunk into buf_; false at the end or on error

    GzFile file_;
    std::string name_;
    bool compressed_ = false;
    std::size_t max_line_;
    std::string buf_;
    std::size_t pos_ = 0;
    bool eof_ = false;
    std::size_t lines_ = 0;
    std::string error_;
};

} // namespace probes::common
