// SPDX-License-Identifier: MIT
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace resolver::policy {

/// Normalises a domain for lookups: lower case (ASCII), no trailing dot, root as ".".
std::string normalize_domain(std::string_view name);

/// A compact, immutable-after-build hash table of domain names, each with up to 255 small
/// values (category IDs). Built for a million entries: all names live in one arena
/// ([len][bytes][count][values]) and the open-addressing table holds 32-bit offsets at a load
/// factor of at most 1/2, about 30-40 bytes per typical name in total.
///
/// Membership of a name "or any parent" is a walk over the name's suffixes at label
/// boundaries (`find_closest`), so `any(dns.domains[*] in $list)` costs O(labels) lookups
/// whatever the table size. Names must be normalised (normalize_domain) by the caller.
class DomainTable {
public:
    /// Adds `name` (normalised, at most 255 bytes) with `values`. When the name is already
    /// present the values are merged (duplicates dropped). Returns false on an invalid name.
    bool insert(std::string_view name, std::span<const std::uint8_t> values = {});
    /// Values of exactly `name`, or nullopt when absent.
    [[nodiscard]] std::optional<std::span<const std::uint8_t>> find(std::string_view name) const;
    [[nodiscard]] bool contains(std::string_view name) const { return find(name).has_value(); }
    /// The longest suffix of `name` at a label boundary that is present (the name itself
    /// first), with its values; nullopt when neither the name nor any parent is present.
    struct Hit {
        std::string_view name;
        std::span<const std::uint8_t> values;
    };
    [[nodiscard]] std::optional<Hit> find_closest(std::string_view name) const;

    [[nodiscard]] std::size_t size() const noexcept { return count_; }
    /// Bytes held by the arena and the slot table (for the benchmark's per-entry figure).
    [[nodiscard]] std::size_t memory_bytes() const noexcept {
        return arena_.capacity() + slots_.capacity() * sizeof(std::uint32_t);
    }
    /// Releases growth slack once loading is done.
    void shrink() { arena_.shrink_to_fit(); }

private:
    [[nodiscard]] std::size_t slot_of(std::string_view name, std::uint64_t h) const;
    void grow();
    std::uint32_t append_record(std::string_view name, std::span<const std::uint8_t> values);

    std::string arena_;
    std::vector<std::uint32_t> slots_; // 0 = empty, otherwise arena offset + 1
    std::size_t count_ = 0;
};

} // namespace resolver::policy
