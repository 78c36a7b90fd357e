// role_check.h: the "exactly one active" check of the soak, over the role samples the monitor
// collected from both members (see soak_roles.h). Pure: no I/O, no clock, so it is unit-tested
// on made-up samples.
//
// The rules:
//  - two members must never report "active" with the same epoch (an epoch names one
//    activation, so that is two actives that both believe they own the store);
//  - active intervals of different members may overlap by at most the fencing window. A run of
//    consecutive active answers of one member with one epoch proves it active from the first
//    answer's arrival to the last request's sending, so only overlap that certainly happened
//    is counted (answers only prove a moment inside [sent, received]).
//
// Ownership and thread safety: plain values.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tandem::soak {

struct RoleSample {
  int64_t sent_us = 0;
  int64_t recv_us = 0;
  bool answered = false;
  std::string role;  // "active", "standby", "activating", "stopping", ... ("" when no answer)
  uint64_t epoch = 0;
  int standbys_alive = 0;  // on an active: the standbys it hears
};

struct RoleCheck {
  uint64_t samples = 0;
  uint64_t unanswered = 0;
  std::vector<uint64_t> same_epoch;  // epochs reported active by more than one member
  double max_overlap_ms = 0;         // longest proven overlap of two members' active runs
  uint64_t max_epoch = 0;
  int activations = 0;  // distinct (member, epoch) pairs seen active
};

// `samples[m]` holds member m's samples in the order they were taken.
RoleCheck CheckRoles(const std::vector<std::vector<RoleSample>>& samples);

}  // namespace tandem::soak
