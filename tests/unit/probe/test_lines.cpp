// SPDX-License-Identifier: MIT
// probes/common/lines: Logpush files read line by line, gzip or not, and damage reported.
#include <doctest/doctest.h>
#include <unistd.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "probes/common/lines.hpp"

namespace fs = std::filesystem;
using probes::common::LineReader;

namespace {

struct TempDir {
    fs::path path =
        fs::temp_directory_path() / ("dnslab-lines-" + std::to_string(::getpid()) + "-" +
                                     std::to_string(reinterpret_cast<std::uintptr_t>(this)));
    TempDir() { fs::create_directories(path); }
    ~TempDir() { fs::remove_all(path); }
};

void write_plain(const fs::path& p, const std::string& text) {
    std::ofstream(p, std::ios::binary) << text;
}

/// One gzip member per text (Logpush batches may be concatenated members).
void write_gzip(const fs::path& p, const std::vector<std::string>& members) {
    std::ofstream(p, std::ios::binary | std::ios::trunc).close();
    for (const auto& text : members) {
        gzFile f = gzopen(p.c_str(), "ab");
        REQUIRE(f != nullptr);
        REQUIRE(gzwrite(f, text.data(), static_cast<unsigned>(text.size())) ==
                static_cast<int>(text.size()));
        REQUIRE(gzclose(f) == Z_OK);
    }
}

std::vector<std::string> all_lines(LineReader& r) {
    std::vector<std::string> out;
    while (auto l = r.next()) {
        out.push_back(*l);
    }
    return out;
}

} // namespace

TEST_CASE("LineReader: plain and gzip files give the same lines") {
    TempDir d;
    const std::string text = "{\"QueryName\":\"a.example\"}\r\n\n{\"QueryName\":\"b.example\"}";
    write_plain(d.path / "log.jsonl", text);
    write_gzip(d.path / "log.jsonl.gz", {text});
    write_gzip(d.path / "no-suffix", {text}); // recognised by its magic, not its name
    const std::vector<std::string> want = {"{\"QueryName\":\"a.example\"}", "",
                                           "{\"QueryName\":\"b.example\"}"};
    for (const char* name : {"log.jsonl", "log.jsonl.gz", "no-suffix"}) {
        CAPTURE(name);
        auto r = LineReader::open(d.path / name);
        REQUIRE(r);
        CHECK(r->compressed() == (std::string(name) != "log.jsonl"));
        CHECK(all_lines(*r) == want);
        CHECK(r->error().empty());
        CHECK(r->line_number() == 3);
    }
}

TEST_CASE("LineReader: concatenated gzip members and lines across chunks") {
    TempDir d;
    std::string big;
    for (int i = 0; i < 20000; ++i) {
        big += "{\"QueryName\":\"host" + std::to_string(i) + ".example.com\"}\n";
    }
    write_gzip(d.path / "batch.gz", {big, "{\"last\":1}\n"});
    auto r = LineReader::open(d.path / "batch.gz");
    REQUIRE(r);
    auto lines = all_lines(*r);
    CHECK(r->error().empty());
    REQUIRE(lines.size() == 20001);
    CHECK(lines[12345] == "{\"QueryName\":\"host12345.example.com\"}");
    CHECK(lines.back() == "{\"last\":1}");
}

TEST_CASE("LineReader: a truncated or corrupt gzip file is an error, not a short log") {
    TempDir d;
    std::string text;
    for (int i = 0; i < 5000; ++i) {
        text += "{\"QueryName\":\"host" + std::to_string(i) + ".example.com\",\"RCode\":0}\n";
    }
    const auto gz = d.path / "full.gz";
    write_gzip(gz, {text});
    const auto size = fs::file_size(gz);
    fs::copy_file(gz, d.path / "cut.gz");
    fs::resize_file(d.path / "cut.gz", size / 2);
    auto cut = LineReader::open(d.path / "cut.gz");
    REQUIRE(cut);
    auto lines = all_lines(*cut);
    CHECK(lines.size() < 5000);
    CHECK(cut->error().find("cut.gz: line ") != std::string::npos);
    CHECK(cut->error().find("corrupt or truncated gzip data") != std::string::npos);
    CHECK_FALSE(cut->next()); // stays stopped

    std::string bytes;
    {
        std::ifstream in(gz, std::ios::binary);
        bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    for (std::size_t i = 20; i < 60; ++i) {
        bytes[i] = static_cast<char>(bytes[i] ^ 0x5a);
    }
    write_plain(d.path / "bad.gz", bytes);
    auto bad = LineReader::open(d.path / "bad.gz");
    REQUIRE(bad);
    all_lines(*bad);
    CHECK(bad->error().find("corrupt or truncated gzip data") != std::string::npos);
}

TEST_CASE("LineReader: bounded lines, unreadable paths") {
    TempDir d;
    write_plain(d.path / "long.jsonl", "ok\n" + std::string(5000, 'x') + "\nafter\n");
    auto r = LineReader::open(d.path / "long.jsonl", 1024);
    REQUIRE(r);
    CHECK(r->next() == std::optional<std::string>("ok"));
    CHECK_FALSE(r->next());
    CHECK(r->error() == (d.path / "long.jsonl").string() + ": line 2 is longer than 1024 bytes");
    CHECK_FALSE(LineReader::open(d.path / "missing.jsonl"));
    auto dir = LineReader::open(d.path);
    REQUIRE_FALSE(dir);
    CHECK(dir.error().detail.find("is a directory") != std::string::npos);
}
