#include "dataplane/log.h"

namespace fulcrum::logtype {

int control = RTE_LOGTYPE_USER1, health = RTE_LOGTYPE_USER1;

void register_all() {
    int c = rte_log_register_type_and_pick_level("fulcrum.control", RTE_LOG_INFO);
    int h = rte_log_register_type_and_pick_level("fulcrum.health", RTE_LOG_INFO);
    if (c >= 0) control = c;
    if (h >= 0) health = h;
}

} // namespace fulcrum::logtype
