// The service manager's readiness protocol (systemd's sd_notify, without libsystemd):
// a datagram to $NOTIFY_SOCKET. Nothing happens when the variable is unset.
#pragma once

#include <string>

namespace fulcrum::host {

// `state` as sd_notify takes it, e.g. "READY=1\nSTATUS=forwarding" or "RELOADING=1".
void notify_service_manager(const std::string &state);

} // namespace fulcrum::host
