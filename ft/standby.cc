// standby.cc: the standby's state between lock attempts (transitions in standby.h).
#include "ft/standby.h"

namespace tandem::ft {

using S = StandbyState;

const char* StandbyStateName(StandbyState state) {
  switch (state) {
    case S::kIdle:
      return "idle";
    case S::kSeeking:
      return "seeking";
    case S::kFollowing:
      return "following";
    case S::kLocking:
      return "locking";
    case S::kLockingHeard:
      return "locking (active heard)";
    case S::kLockingRetry:
      return "locking (retry due)";
    case S::kLockingRetryHeard:
      return "locking (retry due, active heard)";
  }
  return "unknown";
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
