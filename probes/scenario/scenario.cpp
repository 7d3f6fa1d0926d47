// SPDX-License-Identifier: MIT
#include "resolver/util/file.hpp"
#include "probes/scenario/scenario.hpp"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <sstream>

#include <openssl/evp.h>
#include <toml++/toml.h>
#include <unistd.h>
#include <uv.h>
#include <zlib.h>

#include "probes/check/expectations.hpp"
#include "probes/common/targets.hpp"
#include "probes/selftest/bundle.hpp"

namespace probes::scenario {
namespace fs = std::filesystem;
using nlohmann::json;
using resolver::Errc;
using resolver::fail;
using resolver::Result;

namespace {

using resolver::util::read_file;

bool write_text(const fs::path& p, const std::string& text) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << text;
    return static_cast<bool>(out);
}

std::string table_to_toml(const toml::table& t) {
    std::ostringstream s;
    s << t;
    return s.str() + "\n";
}

json toml_to_json(const toml::node& n) {
    if (const auto* t = n.as_table()) {
        json j = json::object();
        for (const auto& [k, v] : *t) {
            j[std::string(k.str())] = toml_to_json(v);
        }
        return j;
    }
    if (const auto* a = n.as_array()) {
        json j = json::array();
        for (const auto& v : *a) {
            j.push_back(toml_to_json(v));
        }
        return j;
    }
    if (auto s = n.value<std::string>(); s && n.is_string()) {
        return *s;
    }
    if (n.is_boolean()) {
        return *n.value<bool>();
    }
    if (n.is_integer()) {
        return *n.value<std::int64_t>();
    }
    if (n.is_floating_point()) {
        return *n.value<double>();
    }
    return nullptr; // dates and times do not occur in behaviour settings
}

// Every regular file under `dir`, relative, '/' separated, sorted (a stable manifest).
std::vector<std::string> list_files(const fs::path& dir) {
    std::vector<std::string> out;
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(dir, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (it->is_regular_file()) {
            out.push_back(fs::relative(it->path(), dir).generic_string());
        }
    }
    std::sort(out.begin(), out.end());
    return out;
}

} // namespace

Result<std::string> substitute(const std::string& text,
                               const std::map<std::string, std::string>& facts) {
    std::string out;
    out.reserve(text.size());
    std::size_t pos = 0;
    while (true) {
        auto start = text.find("${upstream.", pos);
        if (start == std::string::npos) {
            out.append(text, pos, std::string::npos);
            return out;
        }
        auto end = text.find('}', start);
        if (end == std::string::npos) {
            return fail(Errc::ConfigInvalid,
                        "unterminated placeholder at offset " + std::to_string(start));
        }
        const std::string key = text.substr(start + 11, end - start - 11);
        auto it = facts.find(key);
        if (it == facts.end()) {
            return fail(Errc::ConfigInvalid,
                        "unknown placeholder ${upstream." + key + "} (no started helper has it)");
        }
        out.append(text, pos, start - pos);
        out += it->second;
        pos = end + 1;
    }
}

void add_helper_facts(const std::string& name, const std::vector<std::string>& ready,
                      std::map<std::string, std::string>& facts) {
    bool first = true;
    for (const auto& line : ready) {
        if (line.rfind("ca ", 0) == 0) {
            facts[name + ".ca"] = line.substr(3);
            continue;
        }
        auto colon = line.find("://");
        if (colon == std::string::npos) {
            continue;
        }
        const std::string scheme = line.substr(0, colon);
        facts.try_emplace(name + "." + scheme, line);
        if (first) {
            first = false;
            facts[name] = line;
            auto rest = line.substr(colon + 3);
            auto authority = rest.substr(0, rest.find('/'));
            facts[name + ".addr"] = authority;
            auto c = authority.rfind(':');
            facts[name + ".host"] = authority.substr(0, c);
            facts[name + ".port"] = c == std::string::npos ? "" : authority.substr(c + 1);
        }
    }
}

Result<Scenario> load_scenario(const fs::path& dir_in) {
    std::error_code ec;
    Scenario s;
    s.dir = fs::absolute(dir_in, ec).lexically_normal();
    if (!s.dir.empty() && !s.dir.has_filename()) {
        s.dir = s.dir.parent_path();
    }
    const fs::path file = s.dir / "scenario.toml";
    auto text = read_file(file);
    if (!text) {
        return fail(Errc::ConfigInvalid, file.string() + ": cannot read (not a scenario folder)");
    }
    s.root = s.dir;
    s.name = s.dir.filename().string();
    if (fs::exists(s.dir.parent_path() / "scenario.toml")) {
        s.root = s.dir.parent_path();
        s.name = s.root.filename().string() + "/" + s.name;
    }
    toml::table root;
    try {
        root = toml::parse(*text, file.string());
    } catch (const toml::parse_error& e) {
        return fail(Errc::ConfigInvalid, file.string() + ": line " +
                                             std::to_string(e.source().begin.line) + ": " +
                                             std::string(e.description()));
    }
    for (const auto& [k, v] : root) {
        const std::string key(k.str());
        if (key != "description" && key != "lab" && key != "helper" && key != "run") {
            return fail(Errc::ConfigInvalid, file.string() + ": unknown key '" + key + "'");
        }
    }
    s.description = root["description"].value_or(std::string{});
    if (const auto* lab = root["lab"].as_table()) {
        s.lab_toml = table_to_toml(*lab);
        if (const auto* b = (*lab)["behaviour"].as_table()) {
            s.behaviour = toml_to_json(*b);
        }
    }
    if (s.behaviour.is_null()) {
        s.behaviour = json::object();
    }
    if (const auto* helpers = root["helper"].as_array()) {
        for (const auto& h : *helpers) {
            const auto* t = h.as_table();
            if (t == nullptr || !(*t)["name"].is_string()) {
                return fail(Errc::ConfigInvalid, file.string() + ": every [[helper]] needs a name");
            }
            Helper helper;
            helper.name = *(*t)["name"].value<std::string>();
            toml::table cfg = *t;
            cfg.erase("name");
            if (!cfg.contains("listen")) {
                cfg.insert("listen", toml::array{"dns://127.0.0.1:0"});
            }
            helper.config_toml = table_to_toml(cfg);
            s.helpers.push_back(std::move(helper));
        }
    }
    if (const auto* run = root["run"].as_table()) {
        for (const auto& [k, v] : *run) {
            const std::string key(k.str());
            if (key == "transports" && v.is_array()) {
                s.transports.clear();
                for (const auto& el : *v.as_array()) {
                    s.transports.push_back(el.value_or(std::string{}));
                }
            } else if (key == "expect" && v.is_string()) {
                s.expect = *v.value<std::string>();
            } else if (key == "timeout_ms" && v.is_integer()) {
                s.timeout_ms = static_cast<unsigned>(*v.value<std::int64_t>());
            } else {
                return fail(Errc::ConfigInvalid,
                            file.string() + ": bad or unknown key 'run." + key + "'");
            }
        }
    }
    return s;
}

std::string default_resolver_bin() {
    if (const char* e = std::getenv("DNSLAB_RESOLVER"); e != nullptr && *e != '\0') {
        return fs::absolute(e).string(); // the resolvers run from the scenario copy
    }
    std::error_code ec;
    auto self = fs::read_symlink("/proc/self/exe", ec);
    if (!ec) {
        for (const auto& cand : {self.parent_path() / "../resolver/dnslab-resolver",
                                 self.parent_path() / "dnslab-resolver"}) {
            if (fs::exists(cand, ec)) {
                return cand.lexically_normal().string();
            }
        }
    }
    return "/usr/local/bin/dnslab-resolver";
}

Lab::~Lab() {
    stop();
    if (!work.empty()) {
        std::error_code ec;
        if (keep) {
            std::cerr << "dnslab-probe: scenario work directory kept: " << work.string() << "\n";
        } else {
            fs::remove_all(work, ec);
        }
    }
}

void Lab::stop() {
    // The lab first: it flushes its query log on SIGTERM; then the helpers, newest first.
    for (auto it = procs.rbegin(); it != procs.rend(); ++it) {
        it->stop();
    }
}

std::vector<json> Lab::records(bool events) const {
    // Two streams since issue 12: the query log holds gateway_dns records only.
    std::vector<json> out;
    std::ifstream in(events ? this->events : log);
    for (std::string line; std::getline(in, line);) {
        if (line.empty()) {
            continue;
        }
        auto j = json::parse(line, nullptr, false);
        if (j.is_discarded() || !j.is_object()) {
            continue;
        }
        out.push_back(std::move(j));
    }
    return out;
}

Result<std::unique_ptr<Lab>> start_lab(const Scenario& s, const StartOptions& o) {
    auto lab = std::make_unique<Lab>();
    lab->keep = o.keep;
    char tmpl[] = "/tmp/dnslab-scenario-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) {
        return fail(Errc::Internal, "cannot create a temporary directory");
    }
    lab->work = tmpl;
    std::error_code ec;
    const fs::path copy = lab->work / "scenario";
    fs::copy(s.root, copy, fs::copy_options::recursive, ec);
    if (ec) {
        return fail(Errc::ConfigInvalid, "cannot copy " + s.root.string() + ": " + ec.message());
    }
    lab->cwd = copy / fs::relative(s.dir, s.root);

    auto start_one = [&](const std::string& name, const std::string& config,
                         std::vector<std::string> extra,
                         std::vector<std::string>& ready) -> resolver::Status {
        auto cfg = substitute(config, lab->facts);
        if (!cfg) {
            return fail(Errc::ConfigInvalid, name + ": " + cfg.error().detail);
        }
        const fs::path cfg_file = lab->cwd / (".dnslab-" + name + ".toml");
        const fs::path ready_file = lab->work / (name + ".ready");
        if (!write_text(cfg_file, *cfg)) {
            return fail(Errc::Internal, "cannot write " + cfg_file.string());
        }
        std::vector<std::string> argv{o.resolver_bin,
                                      "--config",
                                      cfg_file.string(),
                                      "--ready-file",
                                      ready_file.string(),
                                      "--state-dir",
                                      (lab->work / (name + "-state")).string(),
                                      "--log-json",
                                      (lab->work / (name + ".jsonl")).string(),
                                      "--event-log",
                                      (lab->work / (name + ".events.jsonl")).string()};
        argv.insert(argv.end(), extra.begin(), extra.end());
        auto p = Process::spawn(argv, lab->cwd, lab->work / (name + ".stderr"));
        if (!p) {
            return p.error();
        }
        lab->procs.push_back(std::move(p).value());
        auto lines = wait_ready(lab->procs.back(), ready_file, o.ready_timeout);
        if (!lines) {
            auto err = read_file(lab->work / (name + ".stderr")).value_or("");
            if (err.size() > 2000) {
                err = err.substr(err.size() - 2000);
            }
            return fail(Errc::ConfigInvalid, name + " resolver " + lines.error().detail +
                                                 (err.empty() ? "" : ": " + err));
        }
        ready = std::move(lines).value();
        return resolver::ok();
    };

    for (const auto& h : s.helpers) {
        std::vector<std::string> ready;
        if (auto st = start_one("helper-" + h.name, h.config_toml, {}, ready); !st) {
            return st.error();
        }
        add_helper_facts(h.name, ready, lab->facts);
    }
    // Now every placeholder is known: resolve them in every text file of the copy.
    for (const auto& rel : list_files(copy)) {
        const fs::path p = copy / rel;
        if (fs::file_size(p, ec) > (8U << 20)) {
            continue;
        }
        auto text = read_file(p);
        if (!text || text->find("${upstream.") == std::string::npos) {
            continue;
        }
        auto sub = substitute(*text, lab->facts);
        if (!sub) {
            return fail(Errc::ConfigInvalid, rel + ": " + sub.error().detail);
        }
        write_text(p, *sub);
    }
    lab->log = lab->work / "lab.jsonl";
    lab->events = lab->work / "lab.events.jsonl";
    std::vector<std::string> extra{"--listen", "udp://127.0.0.1:0", "--listen",
                                   "tcp://127.0.0.1:0"};
    if (o.listen_dot_doh) {
        extra.insert(extra.end(), {"--listen", "tls://127.0.0.1:0", "--listen",
                                   "https://127.0.0.1:0/dns-query"});
    }
    extra.insert(extra.end(), o.extra_lab_args.begin(), o.extra_lab_args.end());
    if (auto st = start_one("lab", s.lab_toml, extra, lab->ready); !st) {
        return st.error();
    }
    for (const auto& line : lab->ready) {
        if (line.rfind("ca ", 0) == 0) {
            lab->ca = line.substr(3);
            continue;
        }
        auto colon = line.find("://");
        auto last = line.rfind(':');
        if (colon == std::string::npos || last == std::string::npos || last < colon + 3) {
            continue;
        }
        const std::string scheme = line.substr(0, colon);
        const unsigned port =
            static_cast<unsigned>(std::strtoul(line.c_str() + last + 1, nullptr, 10));
        lab->ports.try_emplace(scheme, port);
    }
    return lab;
}

} // namespace probes::scenario
