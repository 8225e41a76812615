// fulcrum [EAL args] -- --config FILE [--ctl-socket PATH] [-i] [-f FILE] ...
//
// Options are parsed here and the parts wired together; the EAL main lcore then runs
// the control loop (control/control_loop.h) while one worker per remaining lcore forwards.
#include "cli/cli.h"
#include "config/capacity.h"
#include "config/parse.h"
#include "config/state.h"
#include "control/control_loop.h"
#include "control/ctl_socket.h"
#include "control/service.h"
#include "dataplane/ports.h"
#include "deploy/deployment.h"
#include "deploy/lport_state.h"
#include "deploy/stats.h"
#include "dataplane/log.h"
#include "deploy/snapshot_builder.h"
#include "health/checker.h"
#include "host_check.h"
#include "net/toeplitz.h"
#include "observe/observe.h"
#include "service_manager.h"

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
#include <cstring>
#include <cstdio>
#include <iostream>
#include <thread>

namespace po = boost::program_options;
using namespace fulcrum;

namespace {

constexpr int exit_config = 2;

struct options {
    std::string config_path, ctl_path, ctl_group, state_path, cmd_file, metrics_addr;
    bool interactive = false, check = false;
    double duration = 0, warmup = 0, stats_interval = 0;
};

// Boost.Program_options after EAL's arguments; returns the exit code to stop with, or -1.
int parse_options(int argc, char **argv, options &o) {
    po::options_description desc("fulcrum [EAL options] -- [options]\n\n"
                                 "Full-NAT L4 load balancer. Options after '--'");
    desc.add_options()
        ("help,h", "print this help and exit")
        ("config,c", po::value(&o.config_path), "JSON instance configuration (required): ports, vips, "
                                                "local_addresses, listeners, default_server_group")
        ("ctl-socket", po::value(&o.ctl_path), "serve the JSON actions API on this Unix socket (mode 0600: root); "
                                               "fulcrumctl --socket PATH ACTION talks to it")
        ("ctl-group", po::value(&o.ctl_group), "also let this group use the control socket (mode 0660; every peer is "
                                               "checked with SO_PEERCRED: root or a member)")
        ("state-file", po::value(&o.state_path), "keep the applied configuration here: written atomically after every "
                                                 "accepted change, loaded at start over --config's listeners, groups, "
                                                 "vips and timeouts (a corrupt file stops the start, it is never replaced)")
        ("metrics", po::value(&o.metrics_addr), "serve Prometheus metrics on [ADDR:]PORT (GET /metrics; no ADDR: "
                                                "127.0.0.1 only), from the control thread")
        ("check", po::bool_switch(&o.check), "check the configuration against this host (devices, queues, MTUs, "
                                             "NUMA, memory) without starting the data plane; exit 0, or 2 naming the field")
        ("interactive,i", po::bool_switch(&o.interactive), "testpmd-style prompt 'fulcrum> ' on the terminal "
                                                           "(help lists the commands; TAB completes; quit stops Fulcrum)")
        ("cmdline-file,f", po::value(&o.cmd_file), "run the prompt commands in this file once the ports are up")
        ("duration", po::value(&o.duration)->default_value(0), "stop after this many seconds (0: run until SIGINT/SIGTERM)")
        ("warmup", po::value(&o.warmup)->default_value(0), "seconds excluded from the rate printed at exit")
        ("stats-interval", po::value(&o.stats_interval)->default_value(0),
         "print the counters report every N seconds (0: only on SIGUSR1 and at exit)");
    po::variables_map vm;
    try {
        po::store(po::parse_command_line(argc, argv, desc), vm);
        po::notify(vm);
    } catch (const po::error &e) {
        std::fprintf(stderr, "fulcrum: %s\nsee --help\n", e.what());
        return exit_config;
    }
    if (vm.count("help")) {
        std::cout << desc << "\nSignals: SIGUSR1 prints the counters report; SIGHUP re-reads --config and applies changes to\n"
                  << "listeners, default_server_group, vips and tcp_timeouts live (established connections keep\n"
                  << "their backend; a rejected file changes nothing); SIGINT/SIGTERM stop cleanly.\n"
                  << "Exit codes: 0 clean stop, 1 EAL/runtime failure, 2 bad command line or config.\n";
        return 0;
    }
    if (o.config_path.empty()) {
        std::fprintf(stderr, "fulcrum: field '--config': is required (see --help)\n");
        return exit_config;
    }
    return -1;
}

// The worker lcores EAL gave, as many as the config asks for.
result<std::vector<unsigned>> worker_lcores(const config::instance &cfg) {
    std::vector<unsigned> lcores;
    unsigned lc;
    RTE_LCORE_FOREACH_WORKER(lc) lcores.push_back(lc);
    uint32_t n = cfg.workers ? cfg.workers : static_cast<uint32_t>(lcores.size());
    if (n == 0 || n > lcores.size())
        return error{"workers", "needs " + std::to_string(std::max<uint32_t>(n, 1)) + " worker lcore(s) but EAL gave " +
                                    std::to_string(lcores.size()) + " (use -l with the main lcore plus one per worker)"};
    lcores.resize(n);
    return lcores;
}

// Everything that needs the running data plane: parts wired, loop run, report printed.
int serve(const options &o, const config::instance &cfg, rte_mempool *pool, const std::vector<unsigned> &lcores) {
    auto fail = [](const error &e) { return std::fprintf(stderr, "fulcrum: %s\n", e.message().c_str()), exit_config; };
    // A random RSS key per start (net/toeplitz.h), unless a port is "emulated": then the
    // traffic source splits by the known default key.
    if (std::none_of(cfg.ports.begin(), cfg.ports.end(), [](const config::port &p) { return p.rss == config::rss_setting::emulated; }))
        net::randomize_rss_key();
    auto made = deploy::deployment::create(cfg, pool, static_cast<uint32_t>(lcores.size()), lcores);
    if (!made) return fail(made.err());
    deploy::deployment &dp = *made.value();
    std::unique_ptr<control::ctl_socket> ctl;
    if (!o.ctl_path.empty()) {
        auto opened = control::ctl_socket::open(o.ctl_path, o.ctl_group);
        if (!opened) return fail(opened.err());
        ctl = std::move(opened.value());
    }
    // Health probes leave from a laddr through the exception path (the kernel's taps).
    std::unique_ptr<health::checker> checker;
    if (cfg.exception_path)
        checker = std::make_unique<health::checker>(cfg.probe_source, cfg.probe_source6, cfg.probe_port_min, cfg.probe_port_max);
    else if (!health::targets_of(cfg).empty())
        std::printf("fulcrum: warning: health checks need the exception path (\"exception_path\": \"off\"): "
                    "every backend counts as up\n");
    std::unique_ptr<observe::metrics_server> metrics;
    if (!o.metrics_addr.empty()) {
        auto opened = observe::metrics_server::open(o.metrics_addr);
        if (!opened) return fail(opened.err());
        metrics = std::move(opened.value());
    }
    // dpdk-telemetry.py sees /fulcrum/*; dpdk-dumpcap can capture on the ports (it
    // attaches as a secondary process: hugepage memory, not --no-huge).
    observe::register_telemetry();
    observe::publish(deploy::collect_stats(dp));
    rte_pdump_init();
    control::service service(dp, o.state_path, checker.get());
    if (checker) checker->start();
    if (!o.state_path.empty()) // the state file always matches what runs, from the first moment
        if (auto saved = config::write_state(o.state_path, dp.config()); !saved) return fail(saved.err());

    cli::env cli_env{service, dp};
    cli::session prompt(cli_env);
    control::loop_parts parts{dp, service, ctl.get(), metrics.get()};
    parts.quit_typed = [&] { return cli_env.quit; };
    if (o.interactive)
        parts.poll_prompt = [&] {
            // cmdline_poll takes one character per call: feed it all that is waiting.
            // `quit` or the end of stdin closes the prompt and stops Fulcrum.
            pollfd in{STDIN_FILENO, POLLIN, 0};
            bool open = true;
            while (open && ::poll(&in, 1, 0) > 0) open = prompt.poll();
            return open;
        };
    parts.reload = [&] { return config::load_instance_file(o.config_path); };
    parts.duration = o.duration, parts.warmup = o.warmup, parts.stats_interval = o.stats_interval;
    // No stale tuples after a start: the lport rotations go on where the last run left them.
    deploy::lport_state lport_keeper(o.state_path.empty() ? "" : o.state_path + ".lports");
    std::printf("fulcrum: %s\n", lport_keeper.restore(dp).c_str());
    bool lport_save_failed = false;
    parts.every_second = [&] {
        std::string err;
        bool ok = lport_keeper.save(dp, false, err);
        if (!ok && !lport_save_failed) FULCRUM_LOG(WARNING, control, "%s\n", err.c_str());
        lport_save_failed = !ok;
    };
    control::control_loop loop(std::move(parts));
    if (!loop.watch_signals()) return fail(error{"signals", std::string("signalfd failed: ") + std::strerror(errno)});
    std::signal(SIGPIPE, SIG_IGN); // a peer that hangs up is an error on its socket, not the end of Fulcrum
    dp.launch(); // back once every worker forwards: only then say so
    std::printf("fulcrum: %zu worker(s), %zu port(s), %zu listener(s), %zu backend(s)\n", lcores.size(), cfg.ports.size(),
                cfg.listeners.size(), cfg.default_server_group.size());
    std::printf("fulcrum: connection table %u per worker, %zu bytes per connection "
                "(64 B entry + both directions indexed + pool), %.1f MiB per worker\n",
                dp.worker_at(0).conns().capacity(), dp.bytes_per_conn(), double(dp.worker_at(0).conns().bytes()) / (1 << 20));
    if (uint32_t n6 = dp.worker_at(0).conns().capacity6())
        std::printf("fulcrum: IPv6 pool %u per worker: an IPv6 connection takes %zu bytes (%zu + %zu of the pool)\n", n6,
                    dp.bytes_per_conn() + conn::conn_table::bytes_per_addr6, dp.bytes_per_conn(),
                    conn::conn_table::bytes_per_addr6);
    std::printf("fulcrum: capacity %s\n",
                config::describe(config::capacity_of(cfg, uint32_t(lcores.size())), cfg, uint32_t(lcores.size())).c_str());
    std::fflush(stdout);
    if (!o.cmd_file.empty()) prompt.run_file(o.cmd_file, STDOUT_FILENO), std::fflush(stdout);
    host::notify_service_manager("READY=1\nSTATUS=forwarding on " + std::to_string(cfg.ports.size()) + " port(s) with " +
                                 std::to_string(lcores.size()) + " worker(s)");
    if (o.interactive) prompt.start_interactive();
    loop.run();
    host::notify_service_manager("STOPPING=1");
    service.withdraw_for_stop(3.0, 1.0); // routers move away while this node still forwards
    dp.stop();
    if (std::string err; !lport_keeper.save(dp, true, err)) FULCRUM_LOG(WARNING, control, "%s\n", err.c_str());
    rte_pdump_uninit();
    loop.final_report();
    return 0;
}

} // namespace

int main(int argc, char **argv) {
    // Before any thread exists (EAL makes its own): signals reach the control loop's
    // signalfd and no other thread.
    control::control_loop::block_signals();
    if (std::string bad = host::check_eal_cpus(argc, argv); !bad.empty()) {
        std::fprintf(stderr, "fulcrum: config error: %s\n", bad.c_str());
        return exit_config;
    }
    int eal_args = rte_eal_init(argc, argv);
    if (eal_args < 0) {
        std::fprintf(stderr, "fulcrum: EAL initialisation failed: %s\n", rte_strerror(rte_errno));
        return 1;
    }
    logtype::register_all();
    options o;
    if (int rc = parse_options(argc - eal_args, argv + eal_args, o); rc >= 0) return rte_eal_cleanup(), rc;
    auto cfg = config::load_with_state(o.config_path, o.state_path);
    auto lcores = cfg ? worker_lcores(cfg.value()) : result<std::vector<unsigned>>(cfg.err());
    if (!lcores) {
        std::fprintf(stderr, "fulcrum: config error: %s\n", lcores.err().message().c_str());
        return rte_eal_cleanup(), exit_config;
    }
    if (o.check) {
        int failed = host::check_host(cfg.value(), lcores.value());
        uint16_t pid;
        RTE_ETH_FOREACH_DEV(pid) rte_eth_dev_close(pid);
        return rte_eal_cleanup(), failed ? exit_config : 0;
    }
    // One mbuf holds a whole frame of the largest port MTU (jumbo frames included).
    uint32_t max_mtu = 0;
    for (const auto &p : cfg.value().ports) max_mtu = std::max<uint32_t>(max_mtu, p.mtu);
    uint16_t data_room = dataplane::mbuf_data_room(static_cast<uint16_t>(max_mtu));
    rte_mempool *pool = rte_pktmbuf_pool_create("fulcrum_mbufs", cfg.value().mbufs, 256, 0, data_room,
                                                static_cast<int>(rte_socket_id()));
    if (!pool) {
        std::fprintf(stderr, "fulcrum: cannot create mbuf pool of %u: %s\n", cfg.value().mbufs, rte_strerror(rte_errno));
        return rte_eal_cleanup(), 1;
    }
    int rc = serve(o, cfg.value(), pool, lcores.value());
    uint16_t pid;
    RTE_ETH_FOREACH_DEV(pid) rte_eth_dev_close(pid);
    rte_mempool_free(pool);
    rte_eal_cleanup();
    return rc;
}
