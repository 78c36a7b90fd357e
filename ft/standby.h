// standby.h: where a standby stands between lock attempts, as one state with named transitions.
// Failover (failover.h) owns one and asks it whether an attempt is in flight, whether the active
// counts as lost, and whether a Busy answer calls for another attempt at once.
//
// States and every allowed transition (any other call is refused: it returns false and changes
// nothing):
//
//   kIdle               -> kSeeking            Start: nothing heard yet counts as lost
//   kSeeking            -> kLocking            BeginAttempt (at start, on a loss, every retry
//                                              interval while no active is heard)
//   kFollowing          -> kLockingHeard       BeginAttempt (a retry after a store failure's
//                                              backoff while an active is heard)
//   kSeeking            -> kFollowing          HearActive
//   kLocking            -> kLockingHeard       HearActive (the attempt goes on)
//   kLockingRetry       -> kLockingRetryHeard  HearActive (the retry stays due)
//   kFollowing, kLockingHeard, kLockingRetryHeard: HearActive keeps them
//   kFollowing          -> kSeeking            LoseActive (an attempt is due at once)
//   kSeeking: LoseActive keeps it (an attempt is due at once)
//   kLocking, kLockingHeard, kLockingRetryHeard -> kLockingRetry   LoseActive during an attempt:
//                                              another starts the moment it answers Busy
//   kLocking, kLockingRetry             -> kSeeking    Answered (no lock: Busy or a store failure)
//   kLockingHeard, kLockingRetryHeard   -> kFollowing  Answered
//   any                 -> kIdle               Leave: the lock was won, or the member stops
//
// Invariant by construction: at most one attempt is in flight, since BeginAttempt is refused in
// the four kLocking* states and only Answered or Leave ends them.
//
// Ownership: a plain value. Thread safety: loop thread only (with its Failover).
#pragma once

namespace tandem::ft {

enum class StandbyState {
  kIdle,               // not standing by: before Start, or once the lock was won or it stops
  kSeeking,            // no active heard (none yet, or it went away); no attempt in flight
  kFollowing,          // an active is heard within the window; no attempt in flight
  kLocking,            // an attempt is in flight; no active heard
  kLockingHeard,       // an attempt is in flight; an active was heard
  kLockingRetry,       // an attempt is in flight; the active was lost meanwhile: retry on Busy
  kLockingRetryHeard,  // as kLockingRetry, and an active was heard again since
};

const char* StandbyStateName(StandbyState state);

class StandbyMachine {
 public:
  StandbyState state() const { return state_; }
  // One of the four kLocking* states: a lock attempt is in flight.
  bool lock_in_flight() const;
  // No active is heard (kIdle counts: nothing heard yet).
  bool active_lost() const;
  // A Busy answer to the attempt in flight calls for another attempt at once.
  bool retry_due() const {
    return state_ == StandbyState::kLockingRetry || state_ == StandbyState::kLockingRetryHeard;
  }

  // Transitions (see the table above); false when refused.
  bool Start();
  bool BeginAttempt();
  bool HearActive();
  bool LoseActive();
  bool Answered();
  void Leave() { state_ = StandbyState::kIdle; }

 private:
  StandbyState state_ = StandbyState::kIdle;
};

}  // namespace tandem::ft
