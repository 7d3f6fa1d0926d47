// SPDX-License-Identifier: MIT
#pragma once
#include <algorithm>
#include <cstdint>
#include <span>
#include <vector>

namespace resolver::wire {

/// DNS over a byte stream (RFC 1035 §4.2.2, RFC 7766 §8): every message is preceded by a
/// two-byte length. Feed it bytes as they arrive, in any split; it yields whole messages.
/// Shared by the TCP and DoT listeners and the stream clients.
class StreamFramer {
public:
    explicit StreamFramer(std::size_t max_message = 65535) : max_(max_message) {}

    /// Appends bytes. Returns false when a length prefix is 0 or above the cap (any prefix
    /// received, not only the next one): the peer is broken and the connection should be
    /// closed.
    [[nodiscard]] bool feed(std::span<const std::uint8_t> bytes) {
        buf_.insert(buf_.end(), bytes.begin(), bytes.end());
        return valid();
    }

    /// Takes the next complete message into `out`; false when none is complete yet.
    bool next(std::vector<std::uint8_t>& out) {
        if (buf_.size() - pos_ < 2) {
            compact();
            return false;
        }
        const std::size_t len = (std::size_t{buf_[pos_]} << 8) | buf_[pos_ + 1];
        if (buf_.size() - pos_ - 2 < len) {
            compact();
            return false;
        }
        out.assign(buf_.begin() + static_cast<std::ptrdiff_t>(pos_ + 2),
                   buf_.begin() + static_cast<std::ptrdiff_t>(pos_ + 2 + len));
        pos_ += 2 + len;
        return true;
    }

    /// Prefixes a message with its length.
    static std::vector<std::uint8_t> frame(std::span<const std::uint8_t> msg) {
        std::vector<std::uint8_t> out;
        out.reserve(msg.size() + 2);
        out.push_back(static_cast<std::uint8_t>(msg.size() >> 8));
        out.push_back(static_cast<std::uint8_t>(msg.size() & 0xFF));
        out.insert(out.end(), msg.begin(), msg.end());
        return out;
    }

    [[nodiscard]] std::size_t buffered() const { return buf_.size() - pos_; }

private:
    /// Checks every length prefix received since the last call. One read can hold several
    /// messages: a zero or oversized length behind the first was yielded as a message
    /// (found by tests/fuzz/fuzz_framer).
    bool valid() {
        std::size_t at = std::max(pos_, checked_);
        while (at + 2 <= buf_.size()) {
            const std::size_t len = (std::size_t{buf_[at]} << 8) | buf_[at + 1];
            if (len == 0 || len > max_) {
                return false;
            }
            at += 2 + len;
        }
        checked_ = at; // the next prefix to check, possibly not received yet
        return true;
    }
    void compact() {
        if (pos_ > 0) {
            buf_.erase(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(pos_));
            checked_ = checked_ > pos_ ? checked_ - pos_ : 0;
            pos_ = 0;
        }
    }

    std::size_t max_;
    std::vector<std::uint8_t> buf_;
    std::size_t pos_ = 0;
    std::size_t checked_ = 0; // offset in buf_ of the first length prefix valid() has not seen
};

} // namespace resolver::wire
