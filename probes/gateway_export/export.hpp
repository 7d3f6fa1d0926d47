// SPDX-License-Identifier: MIT
#pragma once
#include <chrono>
#include <filesystem>
#include <iosfwd>
#include <set>
#include <string>
#include <vector>

#include "probes/gateway_export/cloudflare_api.hpp"
#include "resolver/core/result.hpp"

namespace probes::gateway_export {

/// `dnslab-probe gateway-export` (docs/gateway-export.md).
struct ExportOptions {
    std::string account;
    std::filesystem::path out;
    std::string api_base = "https://api.cloudflare.com/client/v4";
    std::string ca_file;         // trust store for the API's certificate; "" = the system's
    std::string token;           // CLOUDFLARE_API_TOKEN: sent as a bearer token, nothing else
    unsigned timeout_ms = 30000; // per request
};

/// What the API gave for one account, before it is written.
struct Fetched {
    Collection rules, locations, lists, categories, app_types;
    std::size_t list_items = 0; // merged into `lists`
    std::size_t item_pages = 0; // pages of every list's items call
    std::size_t requests = 0;
    std::set<std::string> api_versions; // `api-version` response headers seen
};

/// Fetches the rules, locations, lists (with every list's items merged into its `items`),
/// categories and application types of `account` through `get` (targets are `base_path` +
/// the API path). Stops at the first API error, stated as parse_envelope states it. A list
/// whose items call returns another number of items than the list's `count` is an error:
/// the account changed during the export, or the pagination was not followed to the end.
resolver::Result<Fetched> fetch_export(const Getter& get, const std::string& base_path,
                                       const std::string& account);

/// One file of the export folder.
struct OutputFile {
    std::string path; // relative, '/'-separated
    std::string content;
};

struct ExportMeta {
    std::string account;
    std::string api_base;
    std::string api_path_version; // "v4" of /client/v4, "" when the base path has none
    std::chrono::system_clock::time_point created;
};

/// The folder's files: rules.json, lists.json, locations.json (API envelopes the resolver
/// loads as they are), categories.json and category_ids.csv (the names of category IDs),
/// app_types.json, resolver.toml and scenario.toml that load them, zones/README.md,
/// README.md and manifest.json (schema dnslab.gateway-export.v1). Pure. `warnings` gets the
/// findings that do not stop the export (a category ID the lab's table cannot hold).
std::vector<OutputFile> build_files(const Fetched& f, const ExportMeta& meta,
                                    std::vector<std::string>& warnings);

/// Writes `files` into a new temporary folder next to `out` and renames it to `out` once all
/// are written, so `out` either holds the complete export or does not exist. `out` must not
/// exist (an empty folder is replaced). On failure the temporary folder is removed.
resolver::Status write_folder(const std::filesystem::path& out,
                              const std::vector<OutputFile>& files);

/// The whole command. Exit 0: written; 1: the API or the network failed (nothing written);
/// 2: bad usage (flags, token, an existing output folder).
int run_export(const ExportOptions& o, std::ostream& out, std::ostream& err);

} // namespace probes::gateway_export
