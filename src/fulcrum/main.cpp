// fulcrum [EAL args] -- --config FILE [--duration S] [--warmup S] [--stats-interval S]
//
// The EAL main lcore is the control thread: it loads the config, starts the ports,
// launches one worker per remaining lcore and then only reads counters until a signal.
#include "cli/cli.h"
#include "config/parse.h"
#include "config/state.h"
#include "control/ctl_socket.h"
#include "control/service.h"
#include "dataplane/instance.h"
#include "dataplane/log.h"
#include "health/checker.h"
#include "observe/observe.h"

#include <nlohmann/json.hpp>

#include <boost/program_options.hpp>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_pdump.h>

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <thread>

namespace po = boost::program_options;
using namespace fulcrum;

namespace {

volatile std::sig_atomic_t g_quit = 0;
volatile std::sig_atomic_t g_dump = 0;
volatile std::sig_atomic_t g_reload = 0;

void on_signal(int sig) {
    if (sig == SIGUSR1) g_dump = 1;
    else if (sig == SIGHUP) g_reload = 1;
    else g_quit = 1;
}

constexpr int exit_config = 2;

struct rates {
    uint64_t rx = 0, tx = 0, conns = 0;
};
rates sample(dataplane::instance &inst) {
    rates r;
    for (size_t i = 0; i < inst.worker_count(); i++) {
        const auto &c = inst.worker_at(i).counters();
        r.rx += c.rx_pkts;
        r.tx += c.tx_pkts;
        r.conns += c.conn_created;
    }
    return r;
}

} // namespace

int main(int argc, char **argv) {
    int eal_args = rte_eal_init(argc, argv);
    if (eal_args < 0) {
        std::fprintf(stderr, "fulcrum: EAL initialisation failed: %s\n", rte_strerror(rte_errno));
        return 1;
    }
    logtype::register_all();
    argc -= eal_args;
    argv += eal_args;

    po::options_description desc("fulcrum [EAL options] -- [options]\n\n"
                                 "Full-NAT L4 load balancer. Options after '--'");
    std::string config_path, ctl_path, state_path, cmd_file, metrics_addr;
    bool interactive = false;
    double duration = 0, warmup = 0, stats_interval = 0;
    desc.add_options()
        ("help,h", "print this help and exit")
        ("config,c", po::value(&config_path), "JSON instance configuration (required): ports, vips, "
                                              "local_addresses, listeners, default_server_group")
        ("ctl-socket", po::value(&ctl_path), "serve the JSON actions API on this Unix socket (mode 0600); "
                                             "fulcrumctl --socket PATH ACTION talks to it")
        ("state-file", po::value(&state_path), "keep the applied configuration here: written atomically after every "
                                               "accepted change, loaded at start over --config's listeners, groups, "
                                               "vips and timeouts (a corrupt file stops the start, it is never replaced)")
        ("metrics", po::value(&metrics_addr), "serve Prometheus metrics on ADDR:PORT (GET /metrics), from the "
                                              "control thread")
        ("interactive,i", po::bool_switch(&interactive), "testpmd-style prompt 'fulcrum> ' on the terminal "
                                                         "(help lists the commands; TAB completes; quit stops Fulcrum)")
        ("cmdline-file,f", po::value(&cmd_file), "run the prompt commands in this file once the ports are up")
        ("duration", po::value(&duration)->default_value(0), "stop after this many seconds (0: run until SIGINT/SIGTERM)")
        ("warmup", po::value(&warmup)->default_value(0), "seconds excluded from the rate printed at exit")
        ("stats-interval", po::value(&stats_interval)->default_value(0),
         "print the counters report every N seconds (0: only on SIGUSR1 and at exit)");
    // SIGHUP re-reads --config and applies listeners, the default server group, VIPs and
    // TCP timeouts without a restart (see the help text below).
    po::variables_map vm;
    try {
        po::store(po::parse_command_line(argc, argv, desc), vm);
        po::notify(vm);
    } catch (const po::error &e) {
        std::fprintf(stderr, "fulcrum: %s\n%s", e.what(), "see --help\n");
        rte_eal_cleanup();
        return exit_config;
    }
    if (vm.count("help")) {
        std::cout << desc << "\nSignals: SIGUSR1 prints the counters report; SIGHUP re-reads --config and applies changes to\n"
                  << "listeners, default_server_group, vips and tcp_timeouts live (established connections keep\n"
                  << "their backend; a rejected file changes nothing); SIGINT/SIGTERM stop cleanly.\n"
                  << "Exit codes: 0 clean stop, 1 EAL/runtime failure, 2 bad command line or config.\n";
        rte_eal_cleanup();
        return 0;
    }
    if (config_path.empty()) {
        std::fprintf(stderr, "fulcrum: field '--config': is required (see --help)\n");
        rte_eal_cleanup();
        return exit_config;
    }
    auto cfg = config::load_with_state(config_path, state_path);
    if (!cfg) {
        std::fprintf(stderr, "fulcrum: config error: %s\n", cfg.err().message().c_str());
        rte_eal_cleanup();
        return exit_config;
    }

    std::vector<unsigned> lcores;
    unsigned lc;
    RTE_LCORE_FOREACH_WORKER(lc) lcores.push_back(lc);
    uint32_t n_workers = cfg.value().workers ? cfg.value().workers : static_cast<uint32_t>(lcores.size());
    if (n_workers == 0 || n_workers > lcores.size()) {
        std::fprintf(stderr, "fulcrum: config error: field 'workers': needs %u worker lcore(s) but EAL gave %zu "
                             "(use -l with the main lcore plus one per worker)\n",
                     std::max<uint32_t>(n_workers, 1), lcores.size());
        rte_eal_cleanup();
        return exit_config;
    }
    lcores.resize(n_workers);

    rte_mempool *pool = rte_pktmbuf_pool_create("fulcrum_mbufs", cfg.value().mbufs, 256, 0,
                                                RTE_MBUF_DEFAULT_BUF_SIZE, static_cast<int>(rte_socket_id()));
    if (!pool) {
        std::fprintf(stderr, "fulcrum: cannot create mbuf pool of %u: %s\n", cfg.value().mbufs, rte_strerror(rte_errno));
        rte_eal_cleanup();
        return 1;
    }
    int rc = 0;
    {
        auto inst = dataplane::instance::create(cfg.value(), pool, n_workers);
        if (!inst) {
            std::fprintf(stderr, "fulcrum: config error: %s\n", inst.err().message().c_str());
            rte_eal_cleanup();
            return exit_config;
        }
        auto &dp = *inst.value();
        std::printf("fulcrum: %u worker(s), %zu port(s), %zu listener(s), %zu backend(s)\n", n_workers,
                    cfg.value().ports.size(), cfg.value().listeners.size(), cfg.value().default_server_group.size());
        std::printf("fulcrum: connection table %u per worker, %zu bytes per connection "
                    "(64 B entry + both directions indexed + pool), %.1f MiB per worker\n",
                    dp.worker_at(0).conns().capacity(), dp.bytes_per_conn(),
                    double(dp.worker_at(0).conns().bytes()) / (1 << 20));
        std::fflush(stdout);

        std::unique_ptr<control::ctl_socket> ctl;
        if (!ctl_path.empty()) {
            auto opened = control::ctl_socket::open(ctl_path);
            if (!opened) {
                std::fprintf(stderr, "fulcrum: %s\n", opened.err().message().c_str());
                rte_eal_cleanup();
                return exit_config;
            }
            ctl = std::move(opened.value());
        }
        // Health probes leave from a laddr through the exception path (the kernel's taps).
        std::unique_ptr<health::checker> checker;
        if (cfg.value().exception_path) {
            checker = std::make_unique<health::checker>(cfg.value().probe_source, cfg.value().probe_port_min,
                                                        cfg.value().probe_port_max);
        } else if (!health::targets_of(cfg.value()).empty()) {
            std::printf("fulcrum: warning: health checks need the exception path (\"exception_path\": \"off\"): "
                        "every backend counts as up\n");
        }
        std::unique_ptr<observe::metrics_server> metrics;
        if (!metrics_addr.empty()) {
            auto opened = observe::metrics_server::open(metrics_addr);
            if (!opened) {
                std::fprintf(stderr, "fulcrum: %s\n", opened.err().message().c_str());
                rte_eal_cleanup();
                return exit_config;
            }
            metrics = std::move(opened.value());
        }
        // dpdk-telemetry.py sees /fulcrum/*; dpdk-dumpcap can capture on the ports (it
        // attaches as a secondary process: hugepage memory, not --no-huge).
        observe::register_telemetry();
        observe::publish(dataplane::collect_stats(dp));
        rte_pdump_init();
        control::service service(dp, state_path, checker.get());
        if (checker) checker->start();
        if (!state_path.empty()) {
            // The state file always matches what runs, from the first moment.
            if (auto saved = config::write_state(state_path, dp.config()); !saved) {
                std::fprintf(stderr, "fulcrum: %s\n", saved.err().message().c_str());
                rte_eal_cleanup();
                return exit_config;
            }
        }
        auto handle = [&](const std::string &text) { return service.handle_text(text); };

        std::signal(SIGINT, on_signal);
        std::signal(SIGTERM, on_signal);
        std::signal(SIGUSR1, on_signal);
        std::signal(SIGHUP, on_signal);
        dp.launch(lcores);
        cli::env cli_env{service, dp};
        cli::session prompt(cli_env);
        if (!cmd_file.empty()) {
            prompt.run_file(cmd_file, STDOUT_FILENO);
            std::fflush(stdout);
        }
        if (interactive) prompt.start_interactive();

        using clock = std::chrono::steady_clock;
        auto start = clock::now(), last_stats = start, last_publish = start;
        auto window_start = start;
        rates window{};
        bool warm = warmup <= 0;
        while (!g_quit) {
            if (ctl) ctl->serve_once(20, handle);
            else std::this_thread::sleep_for(std::chrono::milliseconds(20));
            auto now = clock::now();
            double elapsed = std::chrono::duration<double>(now - start).count();
            if (!warm && elapsed >= warmup) {
                warm = true;
                window = sample(dp);
                window_start = now;
            }
            if (g_dump || (stats_interval > 0 && std::chrono::duration<double>(now - last_stats).count() >= stats_interval)) {
                g_dump = 0;
                last_stats = now;
                std::printf("%s", dp.stats_report().c_str());
                std::fflush(stdout);
            }
            if (g_reload) {
                // Re-read the config file; a rejected file changes nothing.
                g_reload = 0;
                auto next = config::load_instance_file(config_path);
                auto gen = next ? service.apply(next.value()) : config::result<uint64_t>(next.err());
                if (gen) FULCRUM_LOG(INFO, control, "reloaded %s: snapshot generation %llu\n", config_path.c_str(),
                                     static_cast<unsigned long long>(gen.value()));
                else FULCRUM_LOG(WARNING, control, "reload rejected, keeping the running config: %s\n",
                                 gen.err().message().c_str());
                std::fflush(stdout);
            }
            if (interactive) {
                // cmdline_poll takes one character per call: feed it all that is waiting.
                // `quit` or the end of stdin closes the prompt and stops Fulcrum.
                pollfd in{STDIN_FILENO, POLLIN, 0};
                bool open = true;
                while (open && ::poll(&in, 1, 0) > 0) open = prompt.poll();
                if (!open) break;
            }
            if (cli_env.quit) break;
            if (now - last_publish >= std::chrono::milliseconds(200)) {
                observe::publish(dataplane::collect_stats(dp));
                last_publish = now;
            }
            if (metrics) metrics->serve_pending([&] { return dataplane::collect_stats(dp); });
            service.poll();
            dp.reclaim();
            if (duration > 0 && elapsed >= duration) break;
        }
        auto end = clock::now();
        rates fin = sample(dp);
        dp.stop();
        rte_pdump_uninit();
        double secs = std::chrono::duration<double>(end - window_start).count();
        std::printf("%s", dp.stats_report().c_str());
        std::printf("fulcrum: rate over %.2f s: rx %.3f Mpps, tx %.3f Mpps, %.0f new conns/s\n", secs,
                    double(fin.rx - window.rx) / secs / 1e6, double(fin.tx - window.tx) / secs / 1e6,
                    double(fin.conns - window.conns) / secs);
        std::fflush(stdout);
    }
    uint16_t pid;
    RTE_ETH_FOREACH_DEV(pid) rte_eth_dev_close(pid);
    rte_mempool_free(pool);
    rte_eal_cleanup();
    return rc;
}
