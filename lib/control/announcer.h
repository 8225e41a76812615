// Scale-out: which VIPs this node asks its BGP speaker to announce, and telling the
// speaker (README "Scale-out: ECMP and BGP").
//
// A VIP is wanted while the node is not drained and some listener on it has a backend
// that takes new connections (weight > 0, health check passing): the snapshot's
// eligible set. The speaker learns the set from a file it includes, one
// `route A.B.C.D/32 blackhole;` per VIP (BIRD's static-protocol syntax), and the IPv6 VIPs
// from a second (`include_file6`, `route 2001:db8::10/128 blackhole;`: a BIRD static
// protocol takes one family, so the two go in an ipv4 and an ipv6 one), each written to a
// temporary file and renamed, then from `reload_command` (e.g. `birdc -s SOCKET
// configure`), spawned and reaped without waiting: the control thread never blocks on the
// speaker. A change while a reload runs is written now and reloaded once it ends; a
// reload that fails, or runs past 5 s (then killed), is tried again a second later.
#pragma once

#include "config/model.h"
#include "dataplane/snapshot.h"

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace fulcrum::control {

class announcer {
  public:
    announcer() = default;
    ~announcer();
    announcer(const announcer &) = delete;
    announcer &operator=(const announcer &) = delete;

    // The VIPs the snapshot serves, either family (sorted: IPv4 first); none while drained.
    static std::vector<net::ip_addr> wanted(const dataplane::snapshot &s, bool drained);
    // The speaker (an empty include_file: none; the set is still kept for DescribeNodeStatus),
    // told on the next update().
    void configure(const config::bgp_settings &s);
    // The set to announce now: the file is written and a reload started when it changed.
    void update(std::vector<net::ip_addr> vips);
    // From the control loop: reaps a finished reload, starts a due one.
    void poll();

    struct status {
        std::vector<net::ip_addr> announced; // what the files say
        uint64_t reloads = 0, failures = 0;
        std::string last_error; // empty: the last write and reload succeeded
        bool reloading = false, pending = false;
    };
    const status &state() const { return _st; }

  private:
    config::bgp_settings _s;
    status _st;
    bool _written = false; // the files hold _st.announced
    pid_t _child = -1;
    uint64_t _child_started_ms = 0;
    bool _killed = false; // the running reload overran and was sent SIGKILL
    static constexpr uint64_t reload_timeout_ms = 5000; // then the reload is killed and retried
    uint64_t _retry_ms = 0; // CLOCK_MONOTONIC ms before which a failed reload is not retried
    void write_files();
    bool write_file(const std::string &path, bool v6);
    void start_reload();
};

} // namespace fulcrum::control
