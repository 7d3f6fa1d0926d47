// SPDX-License-Identifier: MIT
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "resolver/wire/reader.hpp"

namespace resolver::wire {

/// A domain name in uncompressed wire format (length-prefixed labels ending in the root
/// label 0), with the case the sender used. Comparisons are case-insensitive (RFC 4343).
class Name {
public:
    Name() : wire_(1, '\0') {} // the root

    /// Parses presentation format ("www.example.com", trailing dot optional, "\\." and
    /// "\\DDD" escapes). Empty string or "." is the root. nullopt on a bad name.
    static std::optional<Name> from_text(std::string_view text);
    /// Reads a possibly compressed name at the reader's position (RFC 1035 §4.1.4),
    /// following pointers only backwards, at most 255 bytes. Sets the reader failed on error.
    static Name read(WireReader& r);
    /// The same, into `out` (its storage reused): what parse() does for a recycled message.
    static void read_into(WireReader& r, Name& out);
    /// Wraps already-validated uncompressed wire bytes.
    static Name from_wire_unchecked(std::string wire) {
        Name n;
        n.wire_ = std::move(wire);
        return n;
    }

    /// Presentation format with the trailing dot ("example.com.", root ".").
    [[nodiscard]] std::string to_text() const;
    /// Lower-case presentation format without the trailing dot, root as "." — the form
    /// Gateway logs as QueryName and policy fields compare against.
    [[nodiscard]] std::string to_gateway_text() const;
    /// The same, assigned to `out` (its storage reused: once per query on the hot path).
    void to_gateway_text(std::string& out) const;
    [[nodiscard]] Name lowered() const;

    [[nodiscard]] const std::string& wire() const noexcept { return wire_; }
    [[nodiscard]] std::size_t label_count() const;
    [[nodiscard]] bool is_root() const noexcept { return wire_.size() == 1; }
    /// True when this name equals `zone` or lies below it (case-insensitive).
    [[nodiscard]] bool is_subdomain_of(const Name& zone) const;
    /// The name with its first `n` labels removed.
    [[nodiscard]] Name strip_left(std::size_t n) const;
    /// Labels from the left, as raw bytes.
    [[nodiscard]] std::vector<std::string_view> labels() const;

    friend bool operator==(const Name& a, const Name& b) noexcept;

private:
    std::string wire_;
};

/// Case-insensitive comparison of wire-format names.
bool operator==(const Name& a, const Name& b) noexcept;

/// Hash of the lower-cased wire form, for unordered containers.
struct NameHash {
    std::size_t operator()(const Name& n) const noexcept;
};

} // namespace resolver::wire
