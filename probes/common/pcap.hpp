// SPDX-License-Identifier: MIT
#pragma once
#include <cstdint>
#include <cstdio>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "probes/common/query.hpp"
#include "resolver/core/result.hpp"

namespace probes::common {

/// One side of a packet for the capture file.
struct PacketEndpoint {
    std::string ip; // IPv4 or IPv6 literal
    std::uint16_t port = 0;
};

/// Writes DNS messages as plain DNS-over-UDP packets in a classic pcap file
/// (LINKTYPE_RAW = 101: IPv4 or IPv6 header, UDP header, DNS payload), so that Wireshark
/// and tshark decode exchanges that really went over TCP, TLS or HTTPS. TCP/TLS/HTTP
/// framing is not reproduced: each message is one packet. Messages bigger than a UDP
/// datagram can carry are cut to fit (the IP length stays consistent).
class PcapWriter {
public:
    /// Creates (truncates) `path`. Errors name the path.
    static resolver::Result<std::unique_ptr<PcapWriter>> open(const std::string& path);
    ~PcapWriter();
    PcapWriter(const PcapWriter&) = delete;
    PcapWriter& operator=(const PcapWriter&) = delete;

    /// Adds one packet; `when_us` is wall-clock microseconds since the epoch. Both
    /// endpoints must be of the same address family; otherwise the packet is skipped.
    /// Packets are buffered and written in time order by flush() or the destructor,
    /// because concurrent exchanges complete out of order.
    void write(std::uint64_t when_us, const PacketEndpoint& src, const PacketEndpoint& dst,
               std::span<const std::uint8_t> dns);
    void flush();

private:
    explicit PcapWriter(std::FILE* f) : file_(f) {}
    std::FILE* file_;
    std::vector<std::pair<std::uint64_t, std::vector<std::uint8_t>>> pending_;
};

/// Builds the bytes of one IPv4/IPv6 + UDP packet (exposed for tests). Empty when the
/// addresses are not literals of one family.
std::vector<std::uint8_t> udp_packet(const PacketEndpoint& src, const PacketEndpoint& dst,
                                     std::span<const std::uint8_t> payload);

/// Reads the questions of every DNS query (QR=0) in a capture through libpcap: UDP and
/// single-segment TCP over Ethernet, Linux cooked (SLL), raw IP or loopback links.
resolver::Result<std::vector<QuestionSpec>> read_pcap_questions(const std::string& path);

} // namespace probes::common
