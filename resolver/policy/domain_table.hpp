// SPDX-License-Identifier: MIT
#pragma once
#include <algorithm>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace resolver::policy {

/// Normalises a domain for lookups: lower case (ASCII), no trailing dot, root as ".".
std::string normalize_domain(std::string_view name);
/// The same into `out` (replacing its contents), so loaders reuse one buffer per file
/// instead of allocating a string per name.
void normalize_domain(std::string_view name, std::string& out);

/// A compact, immutable-after-build hash table of domain names, each with up to 255 small
/// values (category IDs). Built for a million entries: all names live in one arena
/// ([len][bytes][count][values]) and the open-addressing table holds 32-bit offsets, each
/// with 32 bits of the name's hash, at a load factor of at most 1/2: about 45-50 bytes per
/// typical name in total. The stored hash lets a probe skip non-matching slots and lets
/// growth rehash without reading the arena (a cache miss per name: a fifth of the load
/// time at a million names before).
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
    /// Whether some name of `labels` labels (dots + 1; 64 stands for 64 or more) may be in
    /// the table. A suffix walk skips the lookups (each a cache miss in a big table) of
    /// suffixes no entry has the length of: all of a 1M list's names often have 3 labels,
    /// so a 5-label query costs one lookup, not five.
    [[nodiscard]] bool may_hold_labels(std::size_t labels) const noexcept {
        return ((label_counts_ >> (std::min<std::size_t>(labels, 64) - 1)) & 1U) != 0;
    }
    /// Labels of a name as may_hold_labels() counts them.
    static std::size_t label_count(std::string_view name) noexcept {
        std::size_t n = 1;
        for (char c : name) {
            n += c == '.' ? 1 : 0;
        }
        return n;
    }

    [[nodiscard]] std::size_t size() const noexcept { return count_; }
    /// Calls `f(name)` for every name, in table order (the rule index copies small lists).
    template <typename F>
    void for_each(F&& f) const {
        for (const Slot& s : slots_) {
            if (s.ref != 0) {
                const char* p = arena_.data() + (s.ref - 1);
                f(std::string_view(p + 1, static_cast<unsigned char>(*p)));
            }
        }
    }
    /// Bytes held by the arena and the slot table (for the benchmark's per-entry figure).
    [[nodiscard]] std::size_t memory_bytes() const noexcept {
        return arena_.capacity() + slots_.capacity() * sizeof(Slot);
    }
    /// Makes room for `names` more entries and `arena_bytes` more arena bytes (an estimate:
    /// a record takes its name's length + 2 + its value count), so a bulk load neither
    /// rehashes nor copies the arena while it grows; shrink() returns the slack.
    void reserve_more(std::size_t names, std::size_t arena_bytes = 0);
    /// Releases growth slack once loading is done.
    void shrink() { arena_.shrink_to_fit(); }

private:
    struct Slot {
        std::uint32_t hash = 0; // low 32 bits of the name's hash
        std::uint32_t ref = 0;  // 0 = empty, otherwise arena offset + 1
    };
    [[nodiscard]] std::size_t slot_of(std::string_view name, std::uint64_t h) const;
    void rehash(std::size_t slot_count);
    std::uint32_t append_record(std::string_view name, std::span<const std::uint8_t> values);

    std::string arena_;
    std::vector<Slot> slots_; // size is a power of two (or zero)
    std::size_t count_ = 0;
    std::uint64_t label_counts_ = 0; // bit k-1: a name of k labels is present
};

} // namespace resolver::policy
