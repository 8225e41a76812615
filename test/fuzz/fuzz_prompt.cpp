// libFuzzer target: the prompt's command lines. The input is text, cut into lines (the
// first 4); each runs through cli::session::run_line against a real Fulcrum instance
// (the packet tests' harness: one worker on net_ring, the standard test network, a few
// connections open so `show conn` has rows), with the output to /dev/null. A change a
// command makes goes through the service as a socket request would; the starting config
// is applied again every 256 inputs, or sooner when the model grew (each change checks
// the whole model, so a large one only slows the search).
#include "../packet/harness.h"
#include "cli/cli.h"

#include <rte_eal.h>

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <string>

using namespace fulcrum;

namespace {
struct prompt_box {
    test::lb lb;
    control::service svc;
    cli::env env;
    cli::session session;
    config::instance start;
    int null_fd;
    explicit prompt_box(nlohmann::json cfg)
        : lb(std::move(cfg)), svc(*lb.inst, "", nullptr), env{svc, *lb.inst}, session(env), start(lb.inst->config()),
          null_fd(::open("/dev/null", O_WRONLY | O_CLOEXEC)) {}
};
prompt_box *box = nullptr;
unsigned runs = 0;

void open_some_connections(test::lb &t) {
    for (uint16_t p = 0; p < 8; p++) {
        test::frame_spec s;
        s.dst_mac = t.port->mac(), s.src_mac = test::client_mac;
        s.src = test::ip("10.0.0.50"), s.dst = test::ip("10.0.0.10"), s.sport = uint16_t(30000 + p), s.dport = 80;
        s.tcp_flags = test::SYN, s.seq = 1;
        t.send({test::build_frame(s)});
    }
}
} // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
    std::string prefix = "--file-prefix=fulcrum_fuzzp_" + std::to_string(getpid());
    const char *eal[] = {"fuzz_prompt", "--no-huge", "-m", "512", "--no-pci", "-l", "0",
                         prefix.c_str(), "--log-level=*:error", "--no-telemetry"};
    if (rte_eal_init(sizeof(eal) / sizeof(eal[0]), const_cast<char **>(eal)) < 0) std::abort();
    box = new prompt_box(test::without_syn_proxy(test::base_config("", {1, 2, 3})));
    open_some_connections(box->lb);
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    std::string text(reinterpret_cast<const char *>(data), size);
    size_t start = 0;
    for (int n = 0; n < 4 && start <= text.size(); n++) {
        size_t end = text.find('\n', start);
        if (end == std::string::npos) end = text.size();
        box->session.run_line(text.substr(start, end - start), box->null_fd);
        start = end + 1;
    }
    box->env.quit = false;
    box->lb.poll_all(); // the workers adopt what changed; reclaim runs in the next apply
    const config::instance &now = box->lb.inst->config();
    if (++runs % 256 == 0 || now.vserver_groups.size() > 4 || now.default_server_group.size() > 8) {
        if (!box->svc.apply(box->start)) std::abort(); // the starting config must always apply again
        rte_log_set_level_pattern("*", RTE_LOG_ERR);     // `set log` may have raised it
    }
    return 0;
}
