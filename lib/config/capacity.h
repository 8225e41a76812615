// What a configuration can hold, said in numbers (the start-up line, --check): the
// connection tables, the reply tuples toward each backend port, and the new connections
// per second both sustain while every finished connection keeps its full TIME_WAIT.
#pragma once

#include "config/model.h"

#include <string>

namespace fulcrum::config {

struct capacity {
    uint64_t held;             // connections in every worker's table together
    uint64_t tuples_per_bport; // concurrent connections toward one backend address:port (smallest laddr pool)
    double table_cps;          // new connections/s the tables sustain at time_wait
    double bport_cps;          // new connections/s toward one backend port at time_wait
};

capacity capacity_of(const instance &cfg, uint32_t workers);
// "1,048,576 connections (1 worker x 1,048,576); 239,904 at once toward each backend
// port (4 laddrs x 59,976 lports); 23,990 new/s per backend port and 104,857/s in all
// with every TIME_WAIT kept 10 s (past that, finished connections give way early)"
std::string describe(const capacity &c, const instance &cfg, uint32_t workers);

} // namespace fulcrum::config
