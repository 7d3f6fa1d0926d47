// SPDX-License-Identifier: MIT
// The scenario archive reader (probes/scenario/pack.cpp, `scenario unpack`): the input is a
// tar stream, gzipped here (gzip's CRC would stop nearly every mutation at the gunzip step)
// and unpacked from a temporary file into a temporary directory, then loaded as a scenario
// folder the way `scenario run` would. The raw input also goes through gunzip and read_tar
// directly. Asserted: an error has a message; nothing is written outside the destination.
#include <zlib.h>

#include <cstdint>
#include <filesystem>
#include <string>

#include "probes/scenario/scenario.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {
namespace fs = std::filesystem;

std::string gzip(std::string_view data) {
    z_stream zs{};
    if (deflateInit2(&zs, Z_BEST_SPEED, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) !=
        Z_OK) {
        fuzz::broken("deflateInit2", "");
    }
    std::string out(deflateBound(&zs, static_cast<uLong>(data.size())), '\0');
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    zs.avail_in = static_cast<uInt>(data.size());
    zs.next_out = reinterpret_cast<Bytef*>(out.data());
    zs.avail_out = static_cast<uInt>(out.size());
    const int rc = deflate(&zs, Z_FINISH);
    out.resize(zs.total_out);
    deflateEnd(&zs);
    if (rc != Z_STREAM_END) {
        fuzz::broken("deflate", std::to_string(rc));
    }
    return out;
}

/// Every path under `dir`, so the test can tell whether unpack wrote outside `dest`.
std::size_t count_entries(const fs::path& dir) {
    std::size_t n = 0;
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(dir, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        ++n;
    }
    return n;
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string raw(fuzz::as_text(data, size));
    (void)probes::scenario::gunzip(raw);
    (void)probes::scenario::read_tar(raw);

    const fuzz::TempDir dir;
    const auto archive = dir.write("case.tar.gz", gzip(raw));
    const fs::path dest = dir.path() / "out";
    fs::create_directory(dest);
    auto root = probes::scenario::unpack_scenario(archive, dest);
    // Only the archive and the destination folder may exist next to each other.
    const std::size_t outside = count_entries(dir.path()) - count_entries(dest);
    FUZZ_CHECK(outside == 2, "unpack wrote outside its destination");
    if (!root) {
        FUZZ_CHECK(!root.error().detail.empty(), "an error without a message");
        return 0;
    }
    const auto rel = root->lexically_relative(dest);
    FUZZ_CHECK(!rel.empty() && *rel.begin() != "..", "unpacked to " + root->string());
    (void)probes::scenario::load_scenario(*root);
    return 0;
}
