#include "config/membership.h"

#include "net/addr.h"

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

std::vector<local_address> local_addresses_by_port(const startup &cfg) {
    std::vector<local_address> all;
    for (const net::ip_addr &l : cfg.local_addresses) {
        size_t home = 0;
        for (size_t k = 0; k < cfg.ports.size(); k++)
            if (cfg.ports[k].on_link(l)) {
                home = k;
                break;
            }
        all.push_back({l, home});
    }
    for (size_t p = 0; p < cfg.ports.size(); p++)
        for (const net::ip_addr &l : cfg.ports[p].local_addresses) all.push_back({l, p});
    return all;
}

} // namespace fulcrum::config
