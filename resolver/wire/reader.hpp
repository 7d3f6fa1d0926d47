// SPDX-License-Identifier: MIT
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>

namespace resolver::wire {

/// Bounds-checked cursor over untrusted bytes. The first out-of-range read sets a
/// sticky failure; later reads return zero/empty, so a parser can read a whole
/// structure and check ok() once at the end.
class WireReader {
public:
    explicit WireReader(std::span<const std::uint8_t> wire) noexcept : wire_(wire) {}

    std::uint8_t u8() noexcept {
        const auto b = take(1);
        return b.empty() ? 0 : b[0];
    }
    std::uint16_t u16() noexcept { // network byte order
        const auto b = take(2);
        return b.empty() ? 0 : static_cast<std::uint16_t>((b[0] << 8) | b[1]);
    }
    std::uint32_t u32() noexcept {
        const auto b = take(4);
        return b.empty() ? 0
                         : (std::uint32_t{b[0]} << 24) | (std::uint32_t{b[1]} << 16) |
                               (std::uint32_t{b[2]} << 8) | std::uint32_t{b[3]};
    }
    std::span<const std::uint8_t> bytes(std::size_t n) noexcept { return take(n); }
    void skip(std::size_t n) noexcept { (void)take(n); }
    /// Moves the cursor; an offset past the end fails.
    void seek(std::size_t pos) noexcept {
        if (pos > wire_.size()) {
            failed_ = true;
        } else {
            pos_ = pos;
        }
    }
    void set_failed() noexcept { failed_ = true; }

    [[nodiscard]] std::size_t pos() const noexcept { return pos_; }
    [[nodiscard]] std::size_t remaining() const noexcept {
        return failed_ ? 0 : wire_.size() - pos_;
    }
    [[nodiscard]] std::span<const std::uint8_t> whole() const noexcept { return wire_; }
    [[nodiscard]] bool ok() const noexcept { return !failed_; }

private:
    std::span<const std::uint8_t> take(std::size_t n) noexcept {
        if (failed_ || n > wire_.size() - pos_) { // no pointer arithmetic past the end
            failed_ = true;
            return {};
        }
        const auto out = wire_.subspan(pos_, n);
        pos_ += n;
        return out;
    }

    std::span<const std::uint8_t> wire_;
    std::size_t pos_ = 0;
    bool failed_ = false;
};

} // namespace resolver::wire
