// SPDX-License-Identifier: MIT
#include "resolver/wire/name.hpp"

#include "resolver/wire/fold.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <functional>

namespace resolver::wire {
namespace {
constexpr char lower(char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

constexpr bool needs_escape(unsigned char c) {
    return c == '.' || c == '\\' || c == '"' || c == '(' || c == ')' || c == ';' || c == '@' ||
           c == '$' || c <= 0x20 || c >= 0x7f;
}

/// Per octet: 0 when presentation format escapes it, else the octet lower-cased.
constexpr std::array<char, 256> kPlainLower = [] {
    std::array<char, 256> t{};
    for (unsigned c = 0; c < 256; ++c) {
        t[c] = needs_escape(static_cast<unsigned char>(c)) ? '\0' : lower(static_cast<char>(c));
    }
    return t;
}();

void append_label_text(std::string& out, std::string_view label, bool lower_case) {
    // Nearly every label is plain text: written in one pass through a table; the first octet
    // that needs an escape sends the label to the general loop below.
    const std::size_t at = out.size();
    out.resize(at + label.size());
    char* p = out.data() + at;
    bool plain = true;
    for (std::size_t i = 0; i < label.size(); ++i) {
        const char t = kPlainLower[static_cast<unsigned char>(label[i])];
        if (t == '\0') {
            plain = false;
            break;
        }
        p[i] = lower_case ? t : label[i];
    }
    if (plain) {
        return;
    }
    out.resize(at);
    for (char ch : label) {
        const auto c = static_cast<unsigned char>(ch);
        if (c == '.' || c == '\\' || c == '"' || c == '(' || c == ')' || c == ';' || c == '@' ||
            c == '$') {
            out.push_back('\\');
            out.push_back(ch);
        } else if (c <= 0x20 || c >= 0x7f) {
            char buf[5];
            std::snprintf(buf, sizeof buf, "\\%03u", c);
            out += buf;
        } else {
            out.push_back(lower_case ? lower(ch) : ch);
        }
    }
}
/// Whether any of p[0..n) is 0, eight octets at a time (the last word may overlap).
bool has_zero_octet(const char* p, std::size_t n) {
    constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
    constexpr std::uint64_t kHigh = 0x8080808080808080ULL;
    auto zero_in = [](std::uint64_t v) { return ((v - kOnes) & ~v & kHigh) != 0; };
    if (n < 8) {
        for (std::size_t i = 0; i < n; ++i) {
            if (p[i] == 0) {
                return true;
            }
        }
        return false;
    }
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        if (zero_in(fold::load8(p + i))) {
            return true;
        }
    }
    return i != n && zero_in(fold::load8(p + n - 8));
}

/// Calls f(label) for each label of a wire-form name, left to right, without building the
/// label list (to_gateway_text runs for every query).
template <typename F>
void each_label(const std::string& wire, F&& f) {
    std::size_t i = 0;
    while (i < wire.size()) {
        const auto len = static_cast<std::uint8_t>(wire[i]);
        if (len == 0) {
            break;
        }
        f(std::string_view(wire.data() + i + 1, len));
        i += 1 + len;
    }
}
} // namespace

std::optional<Name> Name::from_text(std::string_view text) {
    Name n;
    if (text.empty() || text == ".") {
        return n;
    }
    std::string wire;
    std::string label;
    auto flush = [&]() -> bool {
        if (label.empty() || label.size() > 63) {
            return false;
        }
        wire.push_back(static_cast<char>(label.size()));
        wire += label;
        label.clear();
        return true;
    };
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c == '\\') {
            if (i + 1 >= text.size()) {
                return std::nullopt;
            }
            if (i + 3 < text.size() + 0 && std::isdigit(static_cast<unsigned char>(text[i + 1])) &&
                std::isdigit(static_cast<unsigned char>(text[i + 2])) &&
                std::isdigit(static_cast<unsigned char>(text[i + 3]))) {
                const int v =
                    (text[i + 1] - '0') * 100 + (text[i + 2] - '0') * 10 + (text[i + 3] - '0');
                if (v > 255) {
                    return std::nullopt;
                }
                label.push_back(static_cast<char>(v));
                i += 3;
            } else {
                label.push_back(text[++i]);
            }
        } else if (c == '.') {
            if (!flush()) {
                return std::nullopt;
            }
            if (i + 1 == text.size()) {
                break; // trailing dot
            }
        } else {
            label.push_back(c);
        }
    }
    if (!label.empty() && !flush()) {
        return std::nullopt;
    }
    wire.push_back('\0');
    if (wire.size() > 255) {
        return std::nullopt;
    }
    n.wire_ = std::move(wire);
    return n;
}

Name Name::read(WireReader& r) {
    Name n;
    read_into(r, n);
    return n;
}

void Name::read_into(WireReader& r, Name& out) {
    std::string& wire = out.wire_;
    wire.clear();
    auto failed = [&] {
        r.set_failed();
        wire.assign(1, '\0'); // the root, as read() returns on failure
    };
    const auto all = r.whole();
    const std::uint8_t* const base = all.data();
    const std::size_t size = all.size();
    std::size_t pos = r.pos();
    std::size_t resume = 0; // where the reader continues after the first pointer
    bool jumped = false;
    std::size_t limit = pos; // pointers must go strictly backwards
    std::size_t length = 0;  // octets of the name in the pieces before this one
    // The labels between two pointers lie in one piece of the input: each piece is checked
    // label by label and copied in one go (usually the whole name, which has no pointer).
    // A label must end within the input and within the 255 octets of a name (RFC 1035
    // §3.1): both are one bound, `end`, for the piece. At the bound nothing can follow but a
    // failure (no label fits, not even the root), so that is where reading stops.
    std::size_t piece = pos;
    std::size_t end = std::min(size, piece + 255);
    while (true) {
        if (pos >= end) {
            failed();
            return;
        }
        const std::uint8_t len = base[pos];
        if (len < 0x40) {
            pos += 1 + len;
            if (pos > end) {
                failed();
                return;
            }
            if (len == 0) {
                break;
            }
            continue;
        }
        if ((len & 0xC0) != 0xC0) { // 0x40/0x80: extended label types, obsolete (RFC 6891 §5)
            failed();
            return;
        }
        if (pos + 1 >= size) {
            failed();
            return;
        }
        const std::size_t target = (std::size_t{len & 0x3Fu} << 8) | base[pos + 1];
        if (!jumped) {
            resume = pos + 2;
            jumped = true;
        }
        if (target >= limit) { // forward or self pointer: a loop or garbage
            failed();
            return;
        }
        wire.append(reinterpret_cast<const char*>(base + piece), pos - piece);
        length += pos - piece;
        limit = target;
        pos = target;
        piece = pos;
        end = std::min(size, piece + (255 - length));
    }
    wire.append(reinterpret_cast<const char*>(base + piece), pos - piece);
    r.seek(jumped ? resume : pos);
}

std::string Name::to_text() const {
    if (is_root()) {
        return ".";
    }
    std::string out;
    // The text is one octet shorter than the wire form (length octets become dots, the root
    // octet goes), but for escapes: one allocation at most, none for a short name.
    out.reserve(wire_.size() > 1 ? wire_.size() - 1 : 0);
    each_label(wire_, [&](std::string_view label) {
        append_label_text(out, label, false);
        out.push_back('.');
    });
    return out;
}

std::string Name::to_gateway_text() const {
    std::string out;
    to_gateway_text(out);
    return out;
}

void Name::to_gateway_text(std::string& out) const {
    if (is_root()) {
        out.assign(1, '.');
        return;
    }
    // A well-formed name is written in three tight passes instead of label by label: every
    // octet after the first through the lowering table (the text is the wire form less its
    // first length octet and the root octet), then a dot over each later length octet, then
    // one look for an octet the table marked as needing an escape (rare: the label-by-label
    // writer below then starts again).
    const std::size_t n = wire_.size();
    const char* const w = wire_.data();
    if (n >= 2) {
        const std::size_t len = n - 2;
        out.resize(len);
        char* const text = out.data();
        // Eight octets per round: the loop's own count and branch were as many instructions
        // as the copy.
        std::size_t j = 0;
        for (; j + 8 <= len; j += 8) {
            for (std::size_t b = 0; b < 8; ++b) {
                text[j + b] = kPlainLower[static_cast<unsigned char>(w[j + b + 1])];
            }
        }
        for (; j < len; ++j) {
            text[j] = kPlainLower[static_cast<unsigned char>(w[j + 1])];
        }
        // The labels, checked for a well-formed name, with a dot over each later length octet.
        std::size_t k = 0;
        while (k < n && w[k] != 0) {
            if (k != 0 && k <= len) {
                text[k - 1] = '.';
            }
            k += 1 + static_cast<std::uint8_t>(w[k]);
        }
        if (k + 1 == n && !has_zero_octet(text, len)) {
            return;
        }
    }
    out.clear();
    each_label(wire_, [&](std::string_view label) {
        if (!out.empty()) {
            out.push_back('.');
        }
        append_label_text(out, label, true);
    });
}

Name Name::lowered() const {
    Name n = *this;
    std::size_t i = 0;
    while (i < n.wire_.size()) {
        const auto len = static_cast<std::uint8_t>(n.wire_[i]);
        for (std::size_t j = i + 1; j <= i + len && j < n.wire_.size(); ++j) {
            n.wire_[j] = lower(n.wire_[j]);
        }
        i += 1 + len;
        if (len == 0) {
            break;
        }
    }
    return n;
}

std::vector<std::string_view> Name::labels() const {
    std::vector<std::string_view> out;
    std::size_t i = 0;
    while (i < wire_.size()) {
        const auto len = static_cast<std::uint8_t>(wire_[i]);
        if (len == 0) {
            break;
        }
        out.emplace_back(wire_.data() + i + 1, len);
        i += 1 + len;
    }
    return out;
}

std::size_t Name::label_count() const {
    std::size_t n = 0;
    each_label(wire_, [&](std::string_view) { ++n; });
    return n;
}

Name Name::strip_left(std::size_t n) const {
    std::size_t i = 0;
    for (std::size_t k = 0; k < n && i < wire_.size(); ++k) {
        const auto len = static_cast<std::uint8_t>(wire_[i]);
        if (len == 0) {
            break;
        }
        i += 1 + len;
    }
    return from_wire_unchecked(wire_.substr(i));
}

bool Name::is_subdomain_of(const Name& zone) const {
    if (zone.wire_.size() > wire_.size()) {
        return false;
    }
    // Walk label boundaries so "badexample.com" is not below "example.com".
    std::size_t i = 0;
    while (i < wire_.size()) {
        if (wire_.size() - i == zone.wire_.size()) {
            return from_wire_unchecked(wire_.substr(i)) == zone;
        }
        const auto len = static_cast<std::uint8_t>(wire_[i]);
        if (len == 0) {
            break;
        }
        i += 1 + len;
    }
    return false;
}

bool operator==(const Name& a, const Name& b) noexcept {
    return a.wire_.size() == b.wire_.size() &&
           fold::equal(a.wire_.data(), b.wire_.data(), a.wire_.size());
}

std::size_t NameHash::operator()(const Name& n) const noexcept {
    std::size_t h = 1469598103934665603ULL; // FNV-1a over the lower-cased bytes
    for (char c : n.wire()) {
        h ^= static_cast<unsigned char>(lower(c));
        h *= 1099511628211ULL;
    }
    return h;
}

} // namespace resolver::wire
