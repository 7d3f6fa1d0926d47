// SPDX-License-Identifier: MIT
// What the statically linked self-test (probes/selftest/meson.build) needs beyond the
// static archives Debian ships. Linked into that executable only.

#include <sys/random.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <fcntl.h>
#include <unistd.h>

// toml++: Debian ships the compiled part only as libtomlplusplus.so. The objects of
// libdnslab were compiled against that library's ABI (TOML_HEADER_ONLY=0), so the same header
// provides the out-of-line definitions once, here (toml++'s documented TOML_IMPLEMENTATION).
#define TOML_IMPLEMENTATION
#include <toml++/toml.h>

// libpcap.a holds a D-Bus capture module, which pulls in libdbus-1.a, whose "systemd:" server
// address calls two functions of libsystemd, of which Debian ships no static archive. Only a
// D-Bus *server* started by systemd socket activation reaches them; a client process never
// is, and for it sd_listen_fds(3) documents the answer "no descriptors were passed": 0.
extern "C" {
int sd_listen_fds(int /*unset_environment*/) {
    return 0;
}
int sd_is_socket(int /*fd*/, int /*family*/, int /*type*/, int /*listening*/) {
    return 0; // "not a socket of that kind"; unreachable after sd_listen_fds() == 0
}
}

// ldns calls arc4random(3), which glibc has only since 2.36. The definition here is what the
// link resolves ldns's reference to, so the binary keeps running on glibc 2.35 (Ubuntu 22.04);
// the floor is then set by GCC 12's unwinder (_dl_find_object, glibc 2.35). Backed by
// getrandom(2) (glibc 2.25, Linux 3.17), else /dev/urandom; never a predictable value.
extern "C" std::uint32_t arc4random() {
    std::uint32_t v = 0;
    auto* p = reinterpret_cast<unsigned char*>(&v);
    std::size_t got = 0;
    while (got < sizeof v) {
        const ssize_t n = getrandom(p + got, sizeof v - got, 0);
        if (n > 0) {
            got += static_cast<std::size_t>(n);
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else {
            break;
        }
    }
    if (got < sizeof v) {
        const int fd = ::open("/dev/urandom", O_RDONLY | O_CLOEXEC);
        got = fd >= 0 && ::read(fd, &v, sizeof v) == static_cast<ssize_t>(sizeof v) ? sizeof v : 0;
        if (fd >= 0) {
            ::close(fd);
        }
    }
    if (got < sizeof v) {
        std::abort(); // no randomness at all: stop rather than send guessable query IDs
    }
    return v;
}
