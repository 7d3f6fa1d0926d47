// SPDX-License-Identifier: MIT
#pragma once
// Shared by the libFuzzer targets in tests/fuzz (docs/fuzzing.md): an invariant check that
// aborts, so libFuzzer reports the input as a crash and saves it, and RAII temporary files
// for the loaders whose only entry point is a path.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <span>
#include <string>
#include <string_view>
#include <system_error>

namespace fuzz {

/// Prints what broke and aborts: libFuzzer turns the abort into a saved crash input.
[[noreturn]] inline void broken(const char* condition, const std::string& detail) {
    std::fprintf(stderr, "fuzz invariant broken: %s\n%s\n", condition, detail.c_str());
    std::fflush(stderr);
    std::abort();
}

#define FUZZ_CHECK(cond, detail)                                                                   \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            ::fuzz::broken(#cond, (detail));                                                       \
        }                                                                                          \
    } while (0)

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
    return {reinterpret_cast<const char*>(data), size};
}

inline std::span<const std::uint8_t> as_bytes(const std::string& s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

/// A private directory under $TMPDIR (scripts/lab fuzz points TMPDIR at a directory it
/// removes afterwards, so what a crashing run leaves behind is cleaned up too), removed with
/// everything in it when the object goes away.
class TempDir {
public:
    TempDir() {
        const char* base = std::getenv("TMPDIR");
        std::string templ =
            std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/dnslab-fuzz-XXXXXX";
        if (mkdtemp(templ.data()) == nullptr) {
            broken("mkdtemp", templ); // the harness cannot run at all: not an input's fault
        }
        path_ = templ;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

    /// Writes `bytes` to `name` inside the directory and returns its path.
    std::filesystem::path write(const std::string& name, std::string_view bytes) const {
        const auto p = path_ / name;
        std::ofstream out(p, std::ios::binary | std::ios::trunc);
        out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
        out.close();
        if (!out) {
            broken("write temp file", p.string());
        }
        return p;
    }

private:
    std::filesystem::path path_;
};

} // namespace fuzz
