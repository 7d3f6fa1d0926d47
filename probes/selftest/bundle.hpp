// SPDX-License-Identifier: MIT
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "resolver/core/result.hpp"

namespace probes::selftest {

/// One file of a bundle: path inside the archive and its bytes.
using BundleFile = std::pair<std::string, std::string>;

/// A POSIX ustar archive (mode 0644, the given mtime) of `files`, in order. Paths must be
/// under 100 bytes (ours are `dnslab-selftest/report.json` and the like).
std::string make_tar(const std::vector<BundleFile>& files, long mtime);

/// gzip (RFC 1952) of `data` through zlib.
resolver::Result<std::string> gzip(const std::string& data);

/// Writes make_tar + gzip of `files` to `path` (a `.tar.gz` a customer attaches to a ticket).
resolver::Status write_bundle(const std::string& path, const std::vector<BundleFile>& files,
                              long mtime);

} // namespace probes::selftest
