#include "config/membership.h"

namespace fulcrum::config {

std::vector<member> members_of(const instance &cfg, const listener &l) {
    std::vector<member> out;
    auto add = [&](const backend &b, member_role r) { out.push_back({&b, r, b.port ? b.port : l.backend_port}); };
    if (!l.master_slave_group_id.empty()) {
        for (const auto &g : cfg.master_slave_groups)
            if (g.id == l.master_slave_group_id) {
                add(g.master, member_role::master);
                add(g.slave, member_role::slave);
            }
    } else if (!l.vserver_group_id.empty()) {
        for (const auto &g : cfg.vserver_groups)
            if (g.id == l.vserver_group_id)
                for (const auto &b : g.backends) add(b, member_role::plain);
    } else {
        for (const auto &b : cfg.default_server_group) add(b, member_role::plain);
    }
    return out;
}

} // namespace fulcrum::config
