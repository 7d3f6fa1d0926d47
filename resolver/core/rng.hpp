// SPDX-License-Identifier: MIT
#pragma once
#include <cstdint>
#include <random>
#include <vector>

namespace resolver::core {

/// Where randomness comes from (STYLE rule 6): upstream query IDs (RFC 5452 §4.3).
class Rng {
public:
    virtual ~Rng() = default;
    virtual std::uint16_t next_u16() = 0;
};

/// Seeded once from the OS. Not thread-safe: one per loop thread.
class SystemRng final : public Rng {
public:
    SystemRng() : engine_(std::random_device{}()) {}
    std::uint16_t next_u16() override { return static_cast<std::uint16_t>(engine_()); }

private:
    std::mt19937 engine_;
};

/// Replays the given values in a loop (tests); 0x4242 when empty.
class SequenceRng final : public Rng {
public:
    explicit SequenceRng(std::vector<std::uint16_t> values = {}) : values_(std::move(values)) {}
    std::uint16_t next_u16() override {
        if (values_.empty()) {
            return 0x4242;
        }
        const auto v = values_[next_ % values_.size()];
        ++next_;
        return v;
    }

private:
    std::vector<std::uint16_t> values_;
    std::size_t next_ = 0;
};

} // namespace resolver::core
