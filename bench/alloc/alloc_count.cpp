// SPDX-License-Identifier: MIT
// Benchmark tool (not a test): an LD_PRELOAD library that counts heap allocations of a
// whole process, so that allocations per query of a running resolver can be read off
// (bench/udp_allocs.sh). Every malloc, calloc, realloc, posix_memalign, aligned_alloc and
// memalign is counted (operator new ends in malloc), then handed to glibc's own
// implementation (__libc_malloc and friends, exported by glibc for exactly this kind of
// wrapper). SIGUSR2 writes "allocs N\n" to stderr, or to the file named by
// ALLOC_COUNT_FILE (appended), with write(2), which is async-signal-safe (signal-safety(7)).
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdlib>

extern "C" {
void* __libc_malloc(std::size_t);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void* __libc_memalign(std::size_t, std::size_t);
}

namespace {

std::atomic<std::uint64_t> g_allocs{0}; // NOLINT: a preload library has no object to own it
int g_out = 2;                          // NOLINT: set once by the constructor

void count() {
    g_allocs.fetch_add(1, std::memory_order_relaxed);
}

void report(int) {
    char buf[32];
    char* p = buf + sizeof buf;
    *--p = '\n';
    std::uint64_t v = g_allocs.load(std::memory_order_relaxed);
    do {
        *--p = static_cast<char>('0' + v % 10);
        v /= 10;
    } while (v != 0);
    static constexpr char kLabel[] = "allocs ";
    (void)!::write(g_out, kLabel, sizeof kLabel - 1);
    (void)!::write(g_out, p, static_cast<std::size_t>(buf + sizeof buf - p));
}

__attribute__((constructor)) void install() {
    if (const char* path = std::getenv("ALLOC_COUNT_FILE"); path != nullptr && *path != 0) {
        const int fd = ::open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd >= 0) {
            g_out = fd;
        }
    }
    struct sigaction sa {};
    sa.sa_handler = report;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR2, &sa, nullptr);
}

} // namespace

extern "C" {

void* malloc(std::size_t n) {
    count();
    return __libc_malloc(n);
}

void* calloc(std::size_t n, std::size_t size) {
    count();
    return __libc_calloc(n, size);
}

void* realloc(void* p, std::size_t n) {
    count();
    return __libc_realloc(p, n);
}

void* memalign(std::size_t align, std::size_t n) {
    count();
    return __libc_memalign(align, n);
}

void* aligned_alloc(std::size_t align, std::size_t n) {
    count();
    return __libc_memalign(align, n);
}

int posix_memalign(void** out, std::size_t align, std::size_t n) {
    count();
    void* p = __libc_memalign(align, n);
    if (p == nullptr) {
        return ENOMEM;
    }
    *out = p;
    return 0;
}

} // extern "C"
