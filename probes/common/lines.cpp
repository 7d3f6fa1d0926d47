// SPDX-License-Identifier: MIT
#include "probes/common/lines.hpp"

#include <array>
#include <cstdio>

namespace probes::common {
namespace {

constexpr unsigned kChunk = 1U << 16;

using File = resolver::util::CHandle<std::FILE, std::fclose>;

/// RFC 1952 §2.3.1: every gzip member starts with ID1 = 0x1f, ID2 = 0x8b.
bool has_gzip_magic(const std::filesystem::path& path) {
    File f(std::fopen(path.c_str(), "rb"));
    std::array<unsigned char, 2> magic{};
    return f && std::fread(magic.data(), 1, 2, f.get()) == 2 && magic[0] == 0x1f &&
           magic[1] == 0x8b;
}

} // namespace

resolver::Result<LineReader> LineReader::open(const std::filesystem::path& path,
                                              std::size_t max_line) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) {
        return resolver::fail(resolver::Errc::ConfigInvalid,
                              path.string() + ": is a directory, not a log file");
    }
    // zlib reads a file without the gzip magic as it is ("transparent" mode), so one reader
    // serves both kinds; the magic is checked here only to report what the file is.
    GzFile gz(gzopen(path.c_str(), "rb"));
    if (!gz) {
        return resolver::fail(resolver::Errc::ConfigInvalid, path.string() + ": cannot read");
    }
    gzbuffer(gz.get(), kChunk);
    return LineReader(std::move(gz), path.string(), has_gzip_magic(path), max_line);
}

bool LineReader::fill() {
    if (eof_) {
        return false;
    }
    buf_.erase(0, pos_);
    pos_ = 0;
    const std::size_t old = buf_.size();
    buf_.resize(old + kChunk);
    const int n = gzread(file_.get(), buf_.data() + old, kChunk);
    buf_.resize(old + static_cast<std::size_t>(n > 0 ? n : 0));
    int code = Z_OK;
    const char* why = gzerror(file_.get(), &code);
    if (n < 0 || (code != Z_OK && code != Z_STREAM_END)) {
        // Z_BUF_ERROR is zlib's "unexpected end of file": a truncated member.
        error_ = name_ + ": line " + std::to_string(lines_ + 1) + ": " +
                 (compressed_ ? "corrupt or truncated gzip data (" : "read error (") +
                 (why != nullptr ? why : "unknown") + ")";
        eof_ = true;
        return false;
    }
    if (n == 0) {
        eof_ = true;
        return false;
    }
    return true;
}

std::optional<std::string> LineReader::next() {
    if (!error_.empty()) {
        return std::nullopt;
    }
    std::size_t scanned = 0; // bytes after pos_ known to hold no newline
    for (;;) {
        const auto nl = buf_.find('\n', pos_ + scanned);
        const std::size_t len = (nl == std::string::npos ? buf_.size() : nl) - pos_;
        if (len > max_line_) {
            error_ = name_ + ": line " + std::to_string(lines_ + 1) + " is longer than " +
                     std::to_string(max_line_) + " bytes";
            return std::nullopt;
        }
        if (nl != std::string::npos) {
            std::string line = buf_.substr(pos_, nl - pos_);
            pos_ = nl + 1;
            if (!line.empty() && line.back() == '\r') {
                line.pop_back();
            }
            ++lines_;
            return line;
        }
        scanned = buf_.size() - pos_; // fill() keeps them, moved to the front
        if (!fill()) {
            if (!error_.empty() || pos_ == buf_.size()) {
                return std::nullopt;
            }
            std::string last = buf_.substr(pos_); // a last line without "\n"
            pos_ = buf_.size();
            if (!last.empty() && last.back() == '\r') {
                last.pop_back();
            }
            ++lines_;
            return last;
        }
    }
}

} // namespace probes::common
