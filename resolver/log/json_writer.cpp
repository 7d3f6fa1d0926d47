// SPDX-License-Identifier: MIT
#include "resolver/log/json_writer.hpp"

#include <array>
#include <cmath>
#include <cstdio>

namespace resolver::log {

namespace {

/// Bytes that go out as they are: printable ASCII except the quote and the backslash.
constexpr std::array<bool, 256> kPlain = [] {
    std::array<bool, 256> t{};
    for (int c = 0x20; c < 0x7f; ++c) {
        t[static_cast<std::size_t>(c)] = c != '"' && c != '\\';
    }
    return t;
}();

bool plain(unsigned char c) {
    return kPlain[c];
}

void escape_byte(std::string& out, unsigned char c) {
    static constexpr char kHex[] = "0123456789abcdef";
    switch (c) {
    case '"':
        out += "\\\"";
        return;
    case '\\':
        out += "\\\\";
        return;
    case '\n':
        out += "\\n";
        return;
    case '\r':
        out += "\\r";
        return;
    case '\t':
        out += "\\t";
        return;
    default:
        // Control characters, and bytes >= 0x80: DNS labels are bytes, not UTF-8, so they
        // are escaped to keep the line valid JSON.
        const char u[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xF]};
        out.append(u, sizeof u);
    }
}

} // namespace

void JsonWriter::escape(std::string& out, std::string_view s) {
    out.push_back('"');
    // Runs of plain bytes are appended at once: the query log writes one record per query on
    // the loop thread, and almost every byte of it is plain.
    std::size_t i = 0;
    while (i < s.size()) {
        std::size_t j = i;
        while (j < s.size() && plain(static_cast<unsigned char>(s[j]))) {
            ++j;
        }
        out.append(s.data() + i, j - i);
        if (j < s.size()) {
            escape_byte(out, static_cast<unsigned char>(s[j]));
            ++j;
        }
        i = j;
    }
    out.push_back('"');
}

void JsonWriter::separator() {
    if (need_comma_) {
        out_.push_back(',');
    }
}

JsonWriter& JsonWriter::open(char c) {
    separator();
    out_.push_back(c);
    need_comma_ = false;
    return *this;
}

JsonWriter& JsonWriter::close(char c) {
    out_.push_back(c);
    need_comma_ = true;
    return *this;
}

JsonWriter& JsonWriter::key(std::string_view k) {
    separator();
    escape(out_, k);
    out_.push_back(':');
    need_comma_ = false;
    return *this;
}

JsonWriter& JsonWriter::value(std::string_view s) {
    separator();
    escape(out_, s);
    need_comma_ = true;
    return *this;
}

JsonWriter& JsonWriter::value(bool b) {
    separator();
    out_ += b ? "true" : "false";
    need_comma_ = true;
    return *this;
}

JsonWriter& JsonWriter::value(std::int64_t v) {
    separator();
    out_ += std::to_string(v);
    need_comma_ = true;
    return *this;
}

JsonWriter& JsonWriter::value(std::uint64_t v) {
    separator();
    out_ += std::to_string(v);
    need_comma_ = true;
    return *this;
}

JsonWriter& JsonWriter::value(double v) {
    separator();
    if (std::isfinite(v)) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.3f", v);
        out_ += buf;
    } else {
        out_ += "null";
    }
    need_comma_ = true;
    return *this;
}

JsonWriter& JsonWriter::null() {
    separator();
    out_ += "null";
    need_comma_ = true;
    return *this;
}

JsonWriter& JsonWriter::raw(std::string_view json) {
    separator();
    out_ += json;
    need_comma_ = true;
    return *this;
}

} // namespace resolver::log
