// standby.cc: the standby's state between lock attempts (transitions in standby.h).
#include "ft/standby.h"

#include <cstddef>
#include <iterator>

namespace tandem::ft {

using S = StandbyState;

const char* StandbyStateName(StandbyState state) {
  // In the order of the enum; kLockingRetryHeard is its last value.
  static constexpr const char* kNames[] = {"idle",
                                           "seeking",
                                           "following",
                                           "locking",
                                           "locking (active heard)",
                                           "locking (retry due)",
                                           "locking (retry due, active heard)"};
  static_assert(std::size(kNames) == static_cast<size_t>(S::kLockingRetryHeard) + 1);
  auto i = static_cast<size_t>(state);
  return i < std::size(kNames) ? kNames[i] : "unknown";
}

bool StandbyMachine::lock_in_flight() const {
  return state_ == S::kLocking || state_ == S::kLockingHeard || state_ == S::kLockingRetry ||
         state_ == S::kLockingRetryHeard;
}

bool StandbyMachine::active_lost() const {
  return state_ == S::kIdle || state_ == S::kSeeking || state_ == S::kLocking ||
         state_ == S::kLockingRetry;
}

bool StandbyMachine::Start() {
  if (state_ != S::kIdle) return false;
  state_ = S::kSeeking;
  return true;
}

bool StandbyMachine::BeginAttempt() {
  switch (state_) {
    case S::kSeeking:
      state_ = S::kLocking;
      return true;
    case S::kFollowing:
      state_ = S::kLockingHeard;
      return true;
    default:
      return false;  // idle, or an attempt is already in flight
  }
}

bool StandbyMachine::HearActive() {
  switch (state_) {
    case S::kIdle:
      return false;
    case S::kSeeking:
      state_ = S::kFollowing;
      return true;
    case S::kLocking:
      state_ = S::kLockingHeard;
      return true;
    case S::kLockingRetry:
      state_ = S::kLockingRetryHeard;
      return true;
    case S::kFollowing:
    case S::kLockingHeard:
    case S::kLockingRetryHeard:
      return true;
  }
  return false;
}

bool StandbyMachine::LoseActive() {
  switch (state_) {
    case S::kIdle:
      return false;
    case S::kSeeking:
    case S::kFollowing:
      state_ = S::kSeeking;
      return true;
    case S::kLocking:
    case S::kLockingHeard:
    case S::kLockingRetry:
    case S::kLockingRetryHeard:
      state_ = S::kLockingRetry;
      return true;
  }
  return false;
}

bool StandbyMachine::Answered() {
  switch (state_) {
    case S::kLocking:
    case S::kLockingRetry:
      state_ = S::kSeeking;
      return true;
    case S::kLockingHeard:
    case S::kLockingRetryHeard:
      state_ = S::kFollowing;
      return true;
    default:
      return false;  // no attempt in flight
  }
}

}  // namespace tandem::ft
