// Fulcrum's DPDK log types: levels are set like any DPDK component's, at start
// (`--log-level 'fulcrum.*:debug'`, `--log-level fulcrum.health:warning`) or at the prompt
// (`set log fulcrum.control warning`).
//   fulcrum.control  applied and refused changes, reloads, listeners without backends
//   fulcrum.health   backends going down and up
#pragma once

#include <rte_log.h>

namespace fulcrum::logtype {
extern int control, health;
void register_all(); // once, after rte_eal_init
} // namespace fulcrum::logtype

// FULCRUM_LOG(INFO, control, "request %d applied\n", n): one line, "fulcrum: " first.
#define FULCRUM_LOG(level, type, fmt, ...) \
    rte_log(RTE_LOG_##level, ::fulcrum::logtype::type, "fulcrum: " fmt, ##__VA_ARGS__)
