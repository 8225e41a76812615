// fulcrum --check: the configuration against this host, without starting the data plane
// (README "Deploy on a host"). Each item prints "ok" or "FAIL" with the field it is about
// and, for a failure, what fixes it; the exit status is 0 or 2 (a config error).
#pragma once

#include "config/model.h"

#include <string>
#include <vector>

namespace fulcrum::host {

// Before EAL: the CPUs that -l / --lcores / -c name must exist here (EAL would only say
// "initialisation failed"). Empty: fine; else the field and the reason.
std::string check_eal_cpus(int argc, char **argv);

// After EAL (devices probed, not started): ports, queues, MTUs, NUMA placement, memory.
// `lcores`: the worker lcores. Prints the items to stdout; returns the number failed.
int check_host(const config::instance &cfg, const std::vector<unsigned> &lcores);

} // namespace fulcrum::host
