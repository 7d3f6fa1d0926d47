// SPDX-License-Identifier: MIT
#include "probes/common/pcap.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "resolver/fixture/capture.hpp"
#include "resolver/wire/message.hpp"

namespace probes::common {
using resolver::Errc;
using resolver::fail;
using resolver::Result;

namespace {
constexpr std::uint32_t kLinktypeRaw = 101; // tcpdump.org/linktypes.html
constexpr std::size_t kMaxPayload = 65535 - 40 - 8;

void put16(std::vector<std::uint8_t>& out, std::uint16_t v) {
    out.push_back(static_cast<std::uint8_t>(v >> 8));
    out.push_back(static_cast<std::uint8_t>(v & 0xFF));
}

// RFC 1071 one's-complement sum.
std::uint32_t sum16(std::span<const std::uint8_t> data, std::uint32_t acc = 0) {
    for (std::size_t i = 0; i + 1 < data.size(); i += 2) {
        acc += static_cast<std::uint32_t>((data[i] << 8) | data[i + 1]);
    }
    if (data.size() % 2 != 0) {
        acc += static_cast<std::uint32_t>(data.back() << 8);
    }
    return acc;
}
std::uint16_t fold(std::uint32_t acc) {
    while ((acc >> 16) != 0) {
        acc = (acc & 0xFFFF) + (acc >> 16);
    }
    return static_cast<std::uint16_t>(~acc & 0xFFFF);
}

template <typename T>
void put_le(std::FILE* f, T v) {
    // pcap files are written in host order with the magic telling readers which; we write
    // little-endian explicitly so files are identical on every host.
    for (std::size_t i = 0; i < sizeof(T); ++i) {
        std::fputc(static_cast<int>((static_cast<std::uint64_t>(v) >> (8 * i)) & 0xFF), f);
    }
}

} // namespace

std::vector<std::uint8_t> udp_packet(const PacketEndpoint& src, const PacketEndpoint& dst,
                                     std::span<const std::uint8_t> payload_in) {
    std::array<unsigned char, 16> s{}, d{};
    const bool v4 = inet_pton(AF_INET, src.ip.c_str(), s.data()) == 1 &&
                    inet_pton(AF_INET, dst.ip.c_str(), d.data()) == 1;
    const bool v6 = !v4 && inet_pton(AF_INET6, src.ip.c_str(), s.data()) == 1 &&
                    inet_pton(AF_INET6, dst.ip.c_str(), d.data()) == 1;
    if (!v4 && !v6) {
        return {};
    }
    const auto payload = payload_in.subspan(0, std::min(payload_in.size(), kMaxPayload));
    const auto udp_len = static_cast<std::uint16_t>(8 + payload.size());
    std::vector<std::uint8_t> out;
    const std::size_t alen = v4 ? 4 : 16;
    if (v4) {
        out = {0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0}; // DF, TTL 64, proto UDP
        out[2] = static_cast<std::uint8_t>((20 + udp_len) >> 8);
        out[3] = static_cast<std::uint8_t>((20 + udp_len) & 0xFF);
        out.insert(out.end(), s.begin(), s.begin() + 4);
        out.insert(out.end(), d.begin(), d.begin() + 4);
        const auto csum = fold(sum16(out));
        out[10] = static_cast<std::uint8_t>(csum >> 8);
        out[11] = static_cast<std::uint8_t>(csum & 0xFF);
    } else {
        out = {0x60, 0, 0, 0};
        put16(out, udp_len);
        out.push_back(17); // next header UDP
        out.push_back(64); // hop limit
        out.insert(out.end(), s.begin(), s.end());
        out.insert(out.end(), d.begin(), d.end());
    }
    const std::size_t udp_at = out.size();
    put16(out, src.port);
    put16(out, dst.port);
    put16(out, udp_len);
    put16(out, 0);
    out.insert(out.end(), payload.begin(), payload.end());
    // UDP checksum over the pseudo-header (RFC 768; RFC 8200 §8.1 makes it mandatory on IPv6).
    std::vector<std::uint8_t> pseudo(s.begin(), s.begin() + static_cast<long>(alen));
    pseudo.insert(pseudo.end(), d.begin(), d.begin() + static_cast<long>(alen));
    pseudo.push_back(0);
    pseudo.push_back(17);
    put16(pseudo, udp_len);
    std::uint16_t csum = fold(sum16(std::span(out).subspan(udp_at), sum16(pseudo)));
    if (csum == 0) {
        csum = 0xFFFF;
    }
    out[udp_at + 6] = static_cast<std::uint8_t>(csum >> 8);
    out[udp_at + 7] = static_cast<std::uint8_t>(csum & 0xFF);
    return out;
}

Result<std::unique_ptr<PcapWriter>> PcapWriter::open(const std::string& path) {
    std::FILE* f = std::fopen(path.c_str(), "wb");
    if (f == nullptr) {
        return fail(Errc::ConfigInvalid, "cannot write pcap " + path + ": " + std::strerror(errno));
    }
    put_le<std::uint32_t>(f, 0xa1b2c3d4); // microsecond timestamps
    put_le<std::uint16_t>(f, 2);
    put_le<std::uint16_t>(f, 4);
    put_le<std::uint32_t>(f, 0);
    put_le<std::uint32_t>(f, 0);
    put_le<std::uint32_t>(f, 65535);
    put_le<std::uint32_t>(f, kLinktypeRaw);
    return std::unique_ptr<PcapWriter>(new PcapWriter(f));
}

PcapWriter::~PcapWriter() {
    flush();
    std::fclose(file_);
}

void PcapWriter::flush() {
    std::stable_sort(pending_.begin(), pending_.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    for (const auto& [when_us, pkt] : pending_) {
        put_le<std::uint32_t>(file_, static_cast<std::uint32_t>(when_us / 1000000));
        put_le<std::uint32_t>(file_, static_cast<std::uint32_t>(when_us % 1000000));
        put_le<std::uint32_t>(file_, static_cast<std::uint32_t>(pkt.size()));
        put_le<std::uint32_t>(file_, static_cast<std::uint32_t>(pkt.size()));
        std::fwrite(pkt.data(), 1, pkt.size(), file_);
    }
    pending_.clear();
    std::fflush(file_);
}

void PcapWriter::write(std::uint64_t when_us, const PacketEndpoint& src, const PacketEndpoint& dst,
                       std::span<const std::uint8_t> dns) {
    auto pkt = udp_packet(src, dst, dns);
    if (pkt.empty()) {
        return; // mixed families or a host name: nothing decodable to write
    }
    pending_.emplace_back(when_us, std::move(pkt));
}

Result<std::vector<QuestionSpec>> read_pcap_questions(const std::string& path) {
    auto messages = resolver::fixture::read_capture(path);
    if (!messages) {
        return messages.error();
    }
    std::vector<QuestionSpec> out;
    for (const auto& dns : *messages) {
        auto parsed = resolver::wire::parse(dns);
        if (!parsed || parsed.message->flag(resolver::wire::kFlagQr) ||
            parsed.message->question.empty()) {
            continue;
        }
        const auto& q = parsed.message->question.front();
        out.push_back(QuestionSpec{q.qname.to_text(), q.qtype});
    }
    return out;
}

} // namespace probes::common
