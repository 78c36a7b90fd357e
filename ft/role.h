// role.h: the roles an instance of a fault-tolerant group moves through, shared by the
// failover state machine, the heartbeat codec and the server's status reporting.
// See ft/failover.h for the allowed transitions.
#pragma once

#include <optional>
#include <string_view>

namespace tandem::ft {

enum class Role {
  kStandby,     // no lock; hears the active's heartbeats; never listens for clients
  kActivating,  // lock held, epoch bumped; recovering, binding the client port
  kActive,      // lock held; serving and heartbeating
  kStopping,    // graceful stop in progress (stop accepting, last batch, close the store)
  kStopped,     // graceful stop done; the process exits 0
  kFenced,      // must not write again: another active won, or the store failed; exits non-zero
};

inline const char* RoleName(Role role) {
  switch (role) {
    case Role::kStandby: return "standby";
    case Role::kActivating: return "activating";
    case Role::kActive: return "active";
    case Role::kStopping: return "stopping";
    case Role::kStopped: return "stopped";
    case Role::kFenced: return "fenced";
  }
  return "unknown";
}

inline std::optional<Role> ParseRole(std::string_view name) {
  for (Role r : {Role::kStandby, Role::kActivating, Role::kActive, Role::kStopping,
                 Role::kStopped, Role::kFenced}) {
    if (name == RoleName(r)) return r;
  }
  return std::nullopt;
}

}  // namespace tandem::ft
