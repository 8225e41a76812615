#include "config/state.h"

#include "config/json_text.h"
#include "config/parse.h"
#include "core/text_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace fulcrum::config {

using nlohmann::json;

const char *const runtime_keys[6] = {"vips",  "tcp_timeouts", "listeners", "default_server_group",
                                     "vserver_groups", "master_slave_groups"};

result<json> load_json_file(const std::string &path, const std::string &what) {
    auto read = read_text_file(path, what);
    if (!read) return read.err();
    const std::string &text = read.value();
    // Files come from the operator, but a state file or `apply FILE` may be anything:
    // depth is bounded as for requests, size more loosely (a config may be large).
    if (json_depth(text) > max_json_depth)
        return error{what, "file '" + path + "' nests objects and arrays deeper than " + std::to_string(max_json_depth)};
    try {
        return json::parse(text, nullptr, true, true);
    } catch (const json::parse_error &e) {
        // e.byte is where the parser stopped: at the end for a truncated file.
        std::string where = e.byte >= text.size() ? "it ends early (truncated?)"
                                                        : "error at byte " + std::to_string(e.byte);
        return error{what, "file '" + path + "' is not valid JSON: " + where + " (" + e.what() + ")"};
    }
}

result<instance> load_with_state(const std::string &config_path, const std::string &state_path) {
    auto base = load_json_file(config_path, "--config");
    if (!base) return base.err();
    if (state_path.empty() || ::access(state_path.c_str(), F_OK) != 0) return parse_instance(base.value());
    auto state = load_json_file(state_path, "--state-file");
    if (!state) {
        error e = state.err();
        e.rule += "; Fulcrum will not overwrite it: repair it, or move it away to start from --config";
        return e;
    }
    if (!state.value().is_object())
        return error{"--state-file", "file '" + state_path + "' must hold a JSON object (a config)"};
    json merged = base.value();
    for (const char *key : runtime_keys) {
        if (state.value().contains(key)) merged[key] = state.value()[key];
        else merged.erase(key);
    }
    auto cfg = parse_instance(merged);
    if (!cfg) {
        error e = cfg.err();
        e.rule += " (in state file '" + state_path + "' merged with --config; repair it or move it away)";
        return e;
    }
    return cfg;
}

result<bool> write_state(const std::string &state_path, const instance &cfg) {
    std::string text = instance_to_json(cfg).dump(2) + "\n";
    std::string tmp = state_path + ".tmp";
    auto fail = [&](const char *step) {
        return error{"--state-file", std::string(step) + " '" + tmp + "': " + std::strerror(errno)};
    };
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return fail("cannot create");
    size_t off = 0;
    while (off < text.size()) {
        ssize_t n = ::write(fd, text.data() + off, text.size() - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            ::close(fd);
            ::unlink(tmp.c_str());
            return fail("cannot write");
        }
        off += static_cast<size_t>(n);
    }
    if (::fsync(fd) != 0 || ::close(fd) != 0) {
        ::unlink(tmp.c_str());
        return fail("cannot sync");
    }
    if (::rename(tmp.c_str(), state_path.c_str()) != 0) {
        ::unlink(tmp.c_str());
        return fail("cannot rename");
    }
    std::string dir = state_path.find('/') == std::string::npos ? "." : state_path.substr(0, state_path.rfind('/'));
    if (dir.empty()) dir = "/";
    int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        ::fsync(dfd); // the rename itself is durable only once the directory is
        ::close(dfd);
    }
    return true;
}

} // namespace fulcrum::config
