// SPDX-License-Identifier: MIT
#include "probes/selftest/bundle.hpp"

#include <algorithm>
#include <cstring>
#include <fstream>

#include <zlib.h>

namespace probes::selftest {

namespace {

// Octal field of `width` bytes: digits, then NUL (POSIX.1-1988 ustar).
void octal(char* field, std::size_t width, unsigned long value) {
    for (std::size_t i = width - 1; i-- > 0;) {
        field[i] = static_cast<char>('0' + (value & 7U));
        value >>= 3;
    }
    field[width - 1] = '\0';
}

} // namespace

std::string make_tar(const std::vector<BundleFile>& files, long mtime) {
    std::string out;
    for (const auto& [path, data] : files) {
        char h[512];
        std::memset(h, 0, sizeof h);
        std::memcpy(h, path.data(), std::min<std::size_t>(path.size(), 99));
        octal(h + 100, 8, 0644);
        octal(h + 108, 8, 0);
        octal(h + 116, 8, 0);
        octal(h + 124, 12, data.size());
        octal(h + 136, 12, static_cast<unsigned long>(mtime < 0 ? 0 : mtime));
        std::memset(h + 148, ' ', 8); // checksum is computed with this field as spaces
        h[156] = '0';                 // regular file
        std::memcpy(h + 257, "ustar", 6);
        std::memcpy(h + 263, "00", 2);
        unsigned long sum = 0;
        for (unsigned char c : h) {
            sum += c;
        }
        octal(h + 148, 7, sum); // six digits and NUL, then the space already there
        h[155] = ' ';
        out.append(h, sizeof h);
        out += data;
        out.append((512 - data.size() % 512) % 512, '\0');
    }
    out.append(1024, '\0'); // two zero blocks end the archive
    return out;
}

resolver::Result<std::string> gzip(const std::string& data) {
    z_stream z{};
    // windowBits 15 + 16: write a gzip header and trailer instead of zlib's.
    if (deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        return resolver::fail(resolver::Errc::Internal, "zlib: deflateInit2 failed");
    }
    std::string out(deflateBound(&z, data.size()) + 64, '\0');
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    z.avail_in = static_cast<uInt>(data.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    const int rc = deflate(&z, Z_FINISH);
    const auto produced = z.total_out;
    deflateEnd(&z);
    if (rc != Z_STREAM_END) {
        return resolver::fail(resolver::Errc::Internal, "zlib: deflate did not finish");
    }
    out.resize(produced);
    return out;
}

resolver::Status write_bundle(const std::string& path, const std::vector<BundleFile>& files,
                              long mtime) {
    auto gz = gzip(make_tar(files, mtime));
    if (!gz) {
        return gz.error();
    }
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f << *gz;
    f.close();
    if (!f) {
        return resolver::fail(resolver::Errc::ConfigInvalid, "cannot write " + path);
    }
    return resolver::ok();
}

} // namespace probes::selftest
