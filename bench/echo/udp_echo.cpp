// SPDX-License-Identifier: MIT
// The echo floor for the UDP benchmarks (issue 14): the least work a DNS server can do per
// query on this machine. Receives datagrams in batches (recvmmsg), answers each by setting
// the QR bit of the query itself, and sends the batch back with one sendmmsg. No parsing, no
// allocation per query, one thread. Whatever qps and queries per CPU-second it reaches is
// the ceiling the load generator and the kernel leave for any server.
//
// Usage: udp_echo PORT   (127.0.0.1 only; 0 = a port from the kernel). Prints "port N" once
// bound, then serves until SIGTERM or SIGINT.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

constexpr int kBatch = 64;
constexpr std::size_t kMaxDatagram = 4096;

/// Closes the socket on every exit path.
struct Fd {
    int fd = -1;
    ~Fd() {
        if (fd >= 0) {
            close(fd);
        }
    }
};

// The one global: a signal handler can reach nothing else (written only by the handler).
volatile std::sig_atomic_t g_stop = 0;

void on_signal(int /*sig*/) {
    g_stop = 1;
}

} // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: udp_echo PORT\n");
        return 2;
    }
    struct sigaction sa {};
    sa.sa_handler = on_signal; // no SA_RESTART: recvmmsg returns EINTR and the loop ends
    sigaction(SIGTERM, &sa, nullptr);
    sigaction(SIGINT, &sa, nullptr);

    Fd sock{socket(AF_INET, SOCK_DGRAM, 0)};
    if (sock.fd < 0) {
        std::perror("socket");
        return 1;
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(std::atoi(argv[1])));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(sock.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        std::perror("bind");
        return 1;
    }
    socklen_t len = sizeof addr;
    getsockname(sock.fd, reinterpret_cast<sockaddr*>(&addr), &len);
    std::printf("port %u\n", static_cast<unsigned>(ntohs(addr.sin_port)));
    std::fflush(stdout);

    static std::array<std::array<unsigned char, kMaxDatagram>, kBatch> bufs;
    std::array<iovec, kBatch> iov{};
    std::array<sockaddr_in, kBatch> peers{};
    std::array<mmsghdr, kBatch> msgs{};
    while (g_stop == 0) {
        for (int i = 0; i < kBatch; ++i) {
            iov[i] = {bufs[i].data(), kMaxDatagram};
            msgs[i].msg_hdr = {};
            msgs[i].msg_hdr.msg_name = &peers[i];
            msgs[i].msg_hdr.msg_namelen = sizeof peers[i];
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
        }
        // Block for the first datagram, then take whatever else is queued.
        const int n = recvmmsg(sock.fd, msgs.data(), kBatch, MSG_WAITFORONE, nullptr);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            std::perror("recvmmsg");
            return 1;
        }
        int out = 0;
        for (int i = 0; i < n; ++i) {
            const unsigned len_i = msgs[i].msg_len;
            if (len_i < 12) {
                continue; // not a DNS header: dropped, as a server would
            }
            bufs[i][2] |= 0x80; // QR = 1: the query becomes its own answer
            iov[i].iov_len = len_i;
            if (out != i) {
                msgs[out] = msgs[i];
            }
            ++out;
        }
        for (int sent = 0; sent < out;) {
            const int k =
                sendmmsg(sock.fd, msgs.data() + sent, static_cast<unsigned>(out - sent), 0);
            if (k < 0) {
                if (errno == EINTR) {
                    continue;
                }
                break; // a full socket buffer drops the rest, as UDP may
            }
            sent += k;
        }
    }
    return 0;
}
