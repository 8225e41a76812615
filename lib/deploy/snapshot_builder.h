// The config model compiled into what workers run: a dataplane::snapshot of flat tables
// (listeners, backends, pick sequences or Maglev tables, ACLs, local addresses).
#pragma once

#include "config/model.h"
#include "core/result.h"
#include "dataplane/snapshot.h"
#include "deploy/slots.h"

#include <functional>
#include <memory>
#include <vector>

namespace fulcrum::deploy {

// Whether a backend of a listener with HealthCheck on is up (the health checker's
// answer); none given: every backend is up.
using health_fn = std::function<bool(const config::listener &, const config::backend &)>;

// From a validated config and the started ports (in config order). New counter slots are
// taken from `slots` (pass a copy and keep it only if the snapshot is used). A backend
// that is down stays in its listener's list with weight 0: no new connections, its
// existing ones follow the listener's drain setting. A master/slave listener uses its
// master while the master is up, its slave otherwise. Persistence tables are not
// attached here (they outlive snapshots: see deployment).
// `laddrs`: the deployment's laddr plan (config::local_addresses_by_port, made once at
// start: the laddrs are restart-only); nullptr (a model made in code): made here.
result<std::unique_ptr<dataplane::snapshot>> build_snapshot(const config::instance &cfg,
                                                            const std::vector<dataplane::port_rt> &ports,
                                                            slot_registry &slots, const health_fn &health = {},
                                                            const std::vector<config::local_address> *laddrs = nullptr);

} // namespace fulcrum::deploy
