// SPDX-License-Identifier: MIT
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>

namespace resolver::io {

/// Where the client's byte stream stands against HTTP/2 frame boundaries (the connection
/// preface, RFC 9113 §3.4, then 9-byte frame headers with a 24-bit length, §4.1). nghttp2
/// buffers a partial frame silently; this lets the request deadline cover a frame trickled
/// byte by byte.
class H2FrameBoundary {
public:
    /// Consumes bytes; true when at least one frame (or the preface) completed in them.
    bool feed(std::span<const std::uint8_t> bytes) {
        bool completed = false;
        std::size_t i = 0;
        while (i < bytes.size()) {
            if (preface_left_ > 0) {
                const std::size_t n = std::min(preface_left_, bytes.size() - i);
                preface_left_ -= n;
                i += n;
                completed = completed || preface_left_ == 0;
            } else if (header_got_ < kFrameHeader) {
                if (header_got_ < 3) {
                    payload_left_ = (payload_left_ << 8) | bytes[i];
                }
                ++header_got_;
                ++i;
                if (header_got_ == kFrameHeader && payload_left_ == 0) {
                    header_got_ = 0;
                    completed = true;
                }
            } else {
                const std::size_t n = std::min(payload_left_, bytes.size() - i);
                payload_left_ -= n;
                i += n;
                if (payload_left_ == 0) {
                    header_got_ = 0;
                    completed = true;
                }
            }
        }
        return completed;
    }
    [[nodiscard]] bool mid_frame() const {
        return preface_left_ > 0 ? preface_left_ < kPreface : header_got_ > 0;
    }

private:
    static constexpr std::size_t kPreface = 24;
    static constexpr std::size_t kFrameHeader = 9;
    std::size_t preface_left_ = kPreface;
    std::size_t header_got_ = 0;
    std::size_t payload_left_ = 0;
};

} // namespace resolver::io
