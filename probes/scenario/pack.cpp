// SPDX-License-Identifier: MIT
// `scenario pack` / `scenario unpack`: one tar.gz with a manifest.json so a case travels
// between engineers and replays identically (same files, same behaviour settings).
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>

#include <openssl/evp.h>
#include <zlib.h>

#include "resolver/util/hex.hpp"
#include "resolver/util/file.hpp"
#include "probes/scenario/scenario.hpp"
#include "probes/selftest/bundle.hpp"

namespace probes::scenario {
namespace fs = std::filesystem;
using nlohmann::json;
using resolver::Errc;
using resolver::fail;
using resolver::Result;

namespace {

constexpr const char* kManifest = "manifest.json";
constexpr const char* kPackSchema = "dnslab.scenario.pack.v1";
constexpr std::size_t kMaxArchive = 256U << 20; // refuse a decompression bomb

using resolver::util::read_file;

bool safe_relative(const std::string& p) {
    if (p.empty() || p.front() == '/' || p.find('\\') != std::string::npos) {
        return false;
    }
    std::istringstream s(p);
    for (std::string part; std::getline(s, part, '/');) {
        if (part.empty() || part == "." || part == "..") {
            return false;
        }
    }
    return true;
}

} // namespace

std::string sha256_hex(const std::string& data) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
    return resolver::util::hex(md, len);
}

Result<std::string> gunzip(const std::string& gz) {
    z_stream zs{};
    if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) {
        return fail(Errc::Internal, "zlib init failed");
    }
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gz.data()));
    zs.avail_in = static_cast<uInt>(gz.size());
    std::string out;
    char buf[65536];
    int rc = Z_OK;
    while (rc != Z_STREAM_END) {
        zs.next_out = reinterpret_cast<Bytef*>(buf);
        zs.avail_out = sizeof buf;
        rc = inflate(&zs, Z_NO_FLUSH);
        if (rc != Z_OK && rc != Z_STREAM_END) {
            inflateEnd(&zs);
            return fail(Errc::ConfigInvalid,
                        "not a gzip file or corrupt (zlib " + std::to_string(rc) + ")");
        }
        out.append(buf, sizeof buf - zs.avail_out);
        if (out.size() > kMaxArchive) {
            inflateEnd(&zs);
            return fail(Errc::ConfigInvalid, "archive larger than 256 MiB");
        }
        if (rc == Z_OK && zs.avail_in == 0 && zs.avail_out != 0) {
            inflateEnd(&zs);
            return fail(Errc::ConfigInvalid, "truncated gzip data");
        }
    }
    inflateEnd(&zs);
    return out;
}

Result<std::vector<PackedFile>> read_tar(const std::string& tar) {
    std::vector<PackedFile> out;
    std::size_t off = 0;
    while (off + 512 <= tar.size()) {
        const char* h = tar.data() + off;
        if (std::all_of(h, h + 512, [](char c) { return c == 0; })) {
            return out; // end-of-archive block
        }
        std::string name(h, strnlen(h, 100));
        std::string prefix(h + 345, strnlen(h + 345, 155));
        if (!prefix.empty()) {
            name = prefix + "/" + name;
        }
        const std::string size_field(h + 124, strnlen(h + 124, 12));
        char* end = nullptr;
        const unsigned long long size = std::strtoull(size_field.c_str(), &end, 8);
        const char type = h[156];
        off += 512;
        if (off + size > tar.size()) {
            return fail(Errc::ConfigInvalid, "truncated tar entry " + name);
        }
        if (type == '0' || type == '\0') {
            out.push_back({name, tar.substr(off, size)});
        } else if (type != '5' && type != 'x' && type != 'g') {
            // Directories and pax extended headers (Python's tarfile, GNU tar) carry no file
            // data; names come from the ustar header, which must then be the full path.
            return fail(Errc::ConfigInvalid,
                        "tar entry " + name + ": only regular files are allowed");
        }
        off += (size + 511) / 512 * 512;
    }
    // Every tar writer ends with zero blocks; without them the archive was cut short.
    return fail(Errc::ConfigInvalid, "truncated tar archive (no end-of-archive block)");
}

resolver::Status pack_scenario(const fs::path& dir, const fs::path& out, const StartOptions& start,
                               bool probe_behaviour, std::string& summary) {
    auto sc = load_scenario(dir);
    if (!sc) {
        return sc.error();
    }
    if (sc->root != sc->dir) {
        return fail(Errc::ConfigInvalid,
                    "pack the whole scenario (" + sc->root.string() + "), not a variant");
    }
    json behaviour = sc->behaviour;
    std::string source = "config";
    if (probe_behaviour) {
        // The settings in force (defaults included) are what the lab itself reports.
        if (auto lab = start_lab(*sc, start)) {
            (*lab)->stop();
            for (const auto& ev : (*lab)->records(true)) {
                if (ev.value("LabEvent", "") == "policy-loaded" && ev.contains("Behaviour")) {
                    behaviour = ev["Behaviour"];
                    source = "policy-loaded";
                }
            }
        }
    }
    json files = json::array();
    std::vector<selftest::BundleFile> entries;
    std::error_code ec;
    std::vector<std::string> rels;
    for (auto it = fs::recursive_directory_iterator(sc->dir, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (it->is_regular_file()) {
            rels.push_back(fs::relative(it->path(), sc->dir).generic_string());
        }
    }
    std::sort(rels.begin(), rels.end());
    for (const auto& rel : rels) {
        auto data = read_file(sc->dir / rel);
        if (!data) {
            return fail(Errc::ConfigInvalid, "cannot read " + rel);
        }
        const std::string arc = sc->name + "/" + rel;
        if (arc.size() >= 100) {
            return fail(Errc::ConfigInvalid, rel + ": path too long for the archive (99 bytes)");
        }
        files.push_back({{"path", rel}, {"sha256", sha256_hex(*data)}, {"size", data->size()}});
        entries.emplace_back(arc, std::move(*data));
    }
    char when[32];
    std::time_t now = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&now, &tm);
    std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    std::string rv = "unknown";
    if (FILE* p = popen(("'" + start.resolver_bin + "' --version 2>/dev/null").c_str(), "r")) {
        char buf[128];
        if (std::fgets(buf, sizeof buf, p) != nullptr) {
            rv = buf;
            while (!rv.empty() && (rv.back() == '\n' || rv.back() == '\r')) {
                rv.pop_back();
            }
        }
        pclose(p);
    }
    json manifest{{"schema", kPackSchema},
                  {"scenario", sc->name},
                  {"description", sc->description},
                  {"created", when},
                  {"dnslab_version", {{"probe", "dnslab-probe 0.1.0"}, {"resolver", rv}}},
                  {"behaviour", behaviour},
                  {"behaviour_source", source},
                  {"files", files}};
    entries.insert(entries.begin(), {kManifest, manifest.dump(2) + "\n"});
    if (auto st = selftest::write_bundle(out.string(), entries, static_cast<long>(now)); !st) {
        return st;
    }
    summary =
        out.string() + ": " + std::to_string(rels.size()) + " files, behaviour from " + source;
    return resolver::ok();
}

Result<fs::path> unpack_scenario(const fs::path& archive, const fs::path& dest) {
    auto gz = read_file(archive);
    if (!gz) {
        return fail(Errc::ConfigInvalid, archive.string() + ": cannot read");
    }
    auto tar = gunzip(*gz);
    if (!tar) {
        return fail(Errc::ConfigInvalid, archive.string() + ": " + tar.error().detail);
    }
    auto entries = read_tar(*tar);
    if (!entries) {
        return fail(Errc::ConfigInvalid, archive.string() + ": " + entries.error().detail);
    }
    const PackedFile* mf = nullptr;
    for (const auto& e : *entries) {
        if (e.path == kManifest) {
            mf = &e;
        }
    }
    if (mf == nullptr) {
        return fail(Errc::ConfigInvalid,
                    archive.string() + ": no manifest.json (not a scenario pack)");
    }
    auto manifest = json::parse(mf->data, nullptr, false);
    // json::value() throws on a non-object or a key of another type: check shapes first.
    auto text = [](const json& o, const char* key) {
        const auto it = o.find(key);
        return it != o.end() && it->is_string() ? it->get<std::string>() : std::string{};
    };
    if (!manifest.is_object() || text(manifest, "schema") != kPackSchema ||
        !manifest.contains("files") || !manifest["files"].is_array() ||
        !manifest["scenario"].is_string()) {
        return fail(Errc::ConfigInvalid,
                    archive.string() + ": manifest.json is not " + std::string(kPackSchema));
    }
    const std::string name = manifest["scenario"].get<std::string>();
    if (!safe_relative(name) || name.find('/') != std::string::npos) {
        return fail(Errc::ConfigInvalid, "unsafe scenario name '" + name + "'");
    }
    std::map<std::string, std::string> want; // path -> sha256
    for (const auto& f : manifest["files"]) {
        if (!f.is_object()) {
            return fail(Errc::ConfigInvalid,
                        archive.string() + ": manifest.json: a files entry is not an object");
        }
        const std::string p = text(f, "path");
        if (!safe_relative(p)) {
            return fail(Errc::ConfigInvalid, "unsafe path '" + p + "' in the manifest");
        }
        want[p] = text(f, "sha256");
    }
    // Verify everything before writing anything.
    std::map<std::string, const std::string*> have;
    for (const auto& e : *entries) {
        if (e.path == kManifest) {
            continue;
        }
        const std::string prefix = name + "/";
        if (e.path.rfind(prefix, 0) != 0 || !safe_relative(e.path)) {
            return fail(Errc::ConfigInvalid, "refused: unexpected entry '" + e.path + "'");
        }
        const std::string rel = e.path.substr(prefix.size());
        auto it = want.find(rel);
        if (it == want.end()) {
            return fail(Errc::ConfigInvalid, "refused: '" + rel + "' is not in the manifest");
        }
        if (sha256_hex(e.data) != it->second) {
            return fail(Errc::ConfigInvalid,
                        "refused: '" + rel +
                            "' does not match its sha256 in the manifest (tampered)");
        }
        have[rel] = &e.data;
    }
    for (const auto& [p, h] : want) {
        if (have.count(p) == 0) {
            return fail(Errc::ConfigInvalid,
                        "refused: '" + p + "' is in the manifest but not in the archive");
        }
    }
    const fs::path root = dest / name;
    std::error_code ec;
    if (fs::exists(root, ec)) {
        return fail(Errc::ConfigInvalid, root.string() + " already exists");
    }
    for (const auto& [rel, data] : have) {
        const fs::path p = root / rel;
        fs::create_directories(p.parent_path(), ec);
        std::ofstream o(p, std::ios::binary);
        o << *data;
        if (!o) {
            return fail(Errc::Internal, "cannot write " + p.string());
        }
    }
    return root;
}

} // namespace probes::scenario
