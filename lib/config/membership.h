// Which backends serve a listener: its vserver group, its master/slave pair, or the
// default server group. The one answer for the snapshot builder, the stats views, the
// health checker and DescribeHealthStatus.
#pragma once

#include "config/model.h"

#include <vector>

namespace fulcrum::config {

enum class member_role : uint8_t { plain, master, slave };

struct member {
    const backend *b;
    member_role role;
    uint16_t port; // the port in effect: the backend's own, else the listener's BackendServerPort
};

// In group order; a master/slave listener gets its master then its slave.
std::vector<member> members_of(const instance &cfg, const listener &l);

inline const char *role_name(member_role r) {
    return r == member_role::master ? "Master" : r == member_role::slave ? "Slave" : "";
}

} // namespace fulcrum::config
