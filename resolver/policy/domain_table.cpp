// SPDX-License-Identifier: MIT
#include "resolver/policy/domain_table.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace resolver::policy {
namespace {

std::uint64_t hash_name(std::string_view s) noexcept {
    // FNV-1a: short keys, no need for anything stronger (the data is the operator's own).
    std::uint64_t h = 1469598103934665603ULL;
    for (unsigned char c : s) {
        h ^= c;
        h *= 1099511628211ULL;
    }
    return h ^ (h >> 29);
}

} // namespace

void normalize_domain(std::string_view name, std::string& out) {
    out.assign(name);
    for (auto& c : out) {
        if (c >= 'A' && c <= 'Z') {
            c = static_cast<char>(c - 'A' + 'a');
        }
    }
    while (out.size() > 1 && out.back() == '.') {
        out.pop_back();
    }
    if (out.empty()) {
        out.assign(1, '.');
    }
}

std::string normalize_domain(std::string_view name) {
    std::string out;
    normalize_domain(name, out);
    return out;
}

std::size_t DomainTable::slot_of(std::string_view name, std::uint64_t h) const {
    const std::size_t mask = slots_.size() - 1;
    const auto h32 = static_cast<std::uint32_t>(h);
    std::size_t i = h & mask;
    while (true) {
        const Slot& s = slots_[i];
        if (s.ref == 0) {
            return i;
        }
        if (s.hash == h32) {
            const char* p = arena_.data() + (s.ref - 1);
            auto len = static_cast<unsigned char>(*p);
            if (len == name.size() && std::memcmp(p + 1, name.data(), len) == 0) {
                return i;
            }
        }
        i = (i + 1) & mask;
    }
}

std::uint32_t DomainTable::append_record(std::string_view name,
                                         std::span<const std::uint8_t> values) {
    // One resize + memcpy: g++ 12 reports a bogus -Wrestrict on chained push_back/append.
    const std::size_t off = arena_.size();
    arena_.resize(off + 2 + name.size() + values.size());
    char* p = arena_.data() + off;
    p[0] = static_cast<char>(name.size());
    std::memcpy(p + 1, name.data(), name.size());
    p[1 + name.size()] = static_cast<char>(values.size());
    if (!values.empty()) {
        std::memcpy(p + 2 + name.size(), values.data(), values.size());
    }
    return static_cast<std::uint32_t>(off);
}

void DomainTable::rehash(std::size_t slot_count) {
    // The stored hash bits decide the new position: no arena reads, no name compares
    // (the names are distinct). slot_count <= 2^32, so 32 bits cover every mask.
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(slot_count, Slot{});
    const std::size_t mask = slot_count - 1;
    for (const Slot& s : old) {
        if (s.ref == 0) {
            continue;
        }
        std::size_t i = s.hash & mask;
        while (slots_[i].ref != 0) {
            i = (i + 1) & mask;
        }
        slots_[i] = s;
    }
}

void DomainTable::reserve_more(std::size_t names, std::size_t arena_bytes) {
    const std::size_t total = count_ + names;
    std::size_t want = slots_.empty() ? 16 : slots_.size();
    while ((total + 1) * 2 > want) {
        want *= 2;
    }
    if (want != slots_.size()) {
        rehash(want);
    }
    arena_.reserve(arena_.size() + arena_bytes);
}

bool DomainTable::insert(std::string_view name, std::span<const std::uint8_t> values) {
    if (name.empty() || name.size() > 255 || values.size() > 255 ||
        arena_.size() + 2 + name.size() + values.size() >= UINT32_MAX) {
        return false; // offsets are 32-bit: 4 GiB of names is far past any real list
    }
    if ((count_ + 1) * 2 > slots_.size()) {
        rehash(slots_.empty() ? 16 : slots_.size() * 2);
    }
    const std::uint64_t h = hash_name(name);
    std::size_t i = slot_of(name, h);
    if (slots_[i].ref != 0) {
        // Merge values into the existing record: rebuild it at the arena's end (rare: only
        // duplicate rows in category data).
        const char* p = arena_.data() + (slots_[i].ref - 1);
        std::size_t len = static_cast<unsigned char>(*p);
        std::size_t nv = static_cast<unsigned char>(p[1 + len]);
        std::vector<std::uint8_t> merged(reinterpret_cast<const std::uint8_t*>(p + 2 + len),
                                         reinterpret_cast<const std::uint8_t*>(p + 2 + len + nv));
        for (auto v : values) {
            if (std::find(merged.begin(), merged.end(), v) == merged.end()) {
                merged.push_back(v);
            }
        }
        if (merged.size() == nv || merged.size() > 255) {
            return true;
        }
        slots_[i].ref = append_record(name, merged) + 1;
        return true;
    }
    slots_[i] = Slot{static_cast<std::uint32_t>(h), append_record(name, values) + 1};
    ++count_;
    label_counts_ |= std::uint64_t{1} << (std::min<std::size_t>(label_count(name), 64) - 1);
    return true;
}

std::optional<std::span<const std::uint8_t>> DomainTable::find(std::string_view name) const {
    if (slots_.empty() || name.size() > 255) {
        return std::nullopt;
    }
    const std::uint32_t ref = slots_[slot_of(name, hash_name(name))].ref;
    if (ref == 0) {
        return std::nullopt;
    }
    const char* p = arena_.data() + (ref - 1);
    std::size_t len = static_cast<unsigned char>(*p);
    std::size_t nv = static_cast<unsigned char>(p[1 + len]);
    return std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(p + 2 + len), nv);
}

std::optional<DomainTable::Hit> DomainTable::find_closest(std::string_view name) const {
    if (count_ == 0) {
        return std::nullopt;
    }
    std::size_t labels = label_count(name);
    while (!name.empty()) {
        if (may_hold_labels(labels)) {
            if (auto v = find(name)) {
                return Hit{name, *v};
            }
        }
        --labels;
        auto dot = name.find('.');
        if (dot == std::string_view::npos) {
            break;
        }
        name.remove_prefix(dot + 1);
    }
    return std::nullopt;
}

} // namespace resolver::policy
