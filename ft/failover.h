// failover.h: the role state machine of one instance of a fault-tolerant group.
//
// Failover decides when to try the store lock, when to become active, when to heartbeat, when
// to stop and when to fence; it does none of these itself. Its inputs are method calls (lock
// result, heartbeat heard, connection to the active lost, timer tick, stop request) and the
// store's health, which it asks the host on every tick while it serves (see OnTick); its
// outputs go through FailoverHost, which server/ implements (and tests fake). It
// knows nothing of NATS, sockets or SQL: the lock is the store's exclusive SQLite lock, taken by
// Store::Open on the host's behalf, and the epoch is the one that Open wrote.
//
// Roles and every allowed transition (anything else is ignored):
//   (kStandby: the connection to the active lost, or the active's lock freed (active_lock.h):
//    a lock attempt at once; no role change until its result)
//   kStandby    -> kActivating  lock result OK (the host receives the store with Activate)
//   kStandby    -> kStopped     lock result refused the store (NotFound: no store and none may
//                               be created; InvalidArgument: another identity or an older
//                               epoch): Exit(1), since waiting cannot make it right
//   kStandby    -> kStopping    stop requested while a lock attempt is in flight
//   kStandby    -> kStopped     stop requested with no attempt in flight (Exit(0)); or the lock
//                               result says the store cannot be used (not Busy): at once for a
//                               damaged file, after a few retries for other errors
//                               (store_failure.h); Exit(1)
//   kActivating -> kActive      OnActivated(OK): serving; first heartbeat sent at once
//   kActivating -> kStopped     OnActivated(error): nothing was served; Exit(1) (the host closes
//                               the store on its way out)
//                               (the store's health is not asked while activating, and claims
//                               heard then wait until active: recovery's own failure is the
//                               activation's)
//   kActive     -> kStopping    stop requested (host StopServing)
//   kActive     -> kFenced      a winning active heard, or a store error (host Fence)
//   kStopping   -> kStopped     OnServingStopped / the in-flight lock result arrived; a last
//                               "stopping" heartbeat goes out, then Exit
//   kStopping   -> kFenced      store error while stopping (except ShutdownInProgress: a write
//                               that came after our own graceful stop closed the store)
//   kStopped, kFenced           terminal: no further call reaches the host
//
// A "winning" active is another instance heard in a non-standby role whose epoch is higher than
// ours, or equal and whose (name, instance) sorts lower: both sides compute the same answer, so
// exactly one of two actives survives. A heartbeat is only a claim, though: while we hold the
// lock, no other member can have bumped the epoch, so before fencing the active asks the store
// (VerifyOwnership: a transaction that checks the stored epoch is still ours). Only a store
// whose epoch moved on fences us; a claim the store contradicts is logged and ignored. The
// host drops heartbeats that are not signed with the group key before they get here, and
// heartbeats of another store (another store id) are ignored: they say nothing about ours.
//
// Timers: the host calls OnTick() often (every few milliseconds, see tick_ms()); deadlines are
// measured on the Clock, so a tick period only bounds their precision.
//
// Ownership: borrows the Clock and the host, which must outlive it. Holds the store only
// between a successful lock result and the Activate call (or closes it on a stop).
// Thread safety: loop thread only; the host calls back on the loop thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ft/clock.h"
#include "ft/heartbeat.h"
#include "ft/role.h"
#include "ft/standby.h"
#include "store/status.h"
#include "store/store.h"

namespace tandem::ft {

struct FailoverOptions {
  std::string name;       // this instance's name (logs, heartbeats)
  uint64_t instance = 0;  // random per process
  int64_t heartbeat_ms = 100;
  int missed = 3;        // heartbeats missed before the active (or a standby) counts as lost
  int64_t retry_ms = 0;  // lock retry interval while the active is lost; 0: heartbeat_ms
  bool in_group = true;  // false for a standalone instance: it has no standby to miss
};

// What Failover asks of the rest of the process. Every call is made on the loop thread.
class FailoverHost {
 public:
  // Start one attempt at the store lock (Store::Open off the loop, never blocking it) and report
  // with Failover::OnLockResult. Never called while an attempt is in flight.
  virtual void TryLock() = 0;
  // The lock is held and the epoch bumped: recover, bind the client port, start the streaming
  // layer, then report with Failover::OnActivated. Takes the store.
  virtual void Activate(std::unique_ptr<store::Store> store) = 0;
  // Publish one heartbeat to the group (best effort: dropped while not connected).
  virtual void SendHeartbeat(const Heartbeat& hb) = 0;
  // Graceful stop of the active: stop accepting, finish the batch in flight, close the store
  // (freeing the lock), then report with Failover::OnServingStopped.
  virtual void StopServing() = 0;
  // Stop serving at once without another write and exit non-zero. Failover makes no call after.
  virtual void Fence(const Status& why) = 0;
  // Exit the process with this code (after a graceful stop). Failover makes no call after.
  virtual void Exit(int code) = 0;
  // For status reporting (systemd STATUS=, monitoring). Called after every role change.
  virtual void RoleChanged(Role role, uint64_t epoch) = 0;
  // Active: check through the store that the stored epoch is still ours, then report with
  // Failover::OnOwnershipVerified (Fenced when it moved on). Never called twice at once.
  virtual void VerifyOwnership() = 0;
  // The open store's sticky error (I/O, disk full, fenced, the file lost); OK while healthy or
  // when no store is open. Asked on every tick while active or stopping (Failover::OnTick).
  virtual Status StoreHealth() = 0;

 protected:
  ~FailoverHost() = default;
};

// What the active knows of one peer, for status and logs.
struct PeerStatus {
  std::string name;
  uint64_t instance = 0;
  Role role = Role::kStandby;
  uint64_t epoch = 0;
  int64_t age_ms = 0;  // since its last heartbeat
  bool alive = false;  // heard within the missed window
};

class Failover {
 public:
  Failover(const FailoverOptions& options, Clock* clock, FailoverHost* host);
  Failover(const Failover&) = delete;
  Failover& operator=(const Failover&) = delete;

  // Begins in kStandby and tries the lock at once.
  void Start();

  // Inputs.
  void OnLockResult(Result<std::unique_ptr<store::Store>> result);
  void OnActivated(const Status& status);
  void OnHeartbeat(const Heartbeat& hb);
  void OnActiveLost();  // the standby's connection to the active dropped
  // The active's lock next to the store (active_lock.h) was free: the active died or stopped.
  // Like OnActiveLost: a standby tries the store lock at once (the store lock decides).
  void OnActiveLockFreed();
  static constexpr int64_t kFreedRetryMs = 5;
  // Also the one path by which store errors reach the role machine: while active or stopping
  // it asks the host's StoreHealth first (a sticky error fences).
  void OnTick();
  void RequestStop();  // SIGTERM/SIGINT
  void OnServingStopped(const Status& status);
  void OnOwnershipVerified(const Status& status);
  // The store the group serves, as read from the identity file by the host ("" unknown).
  void SetStoreId(const std::string& store_id);

  Role role() const { return role_; }
  // The one answer to "is this process serving?": the lock is ours, the client port is bound
  // and the streaming layer runs, from OnActivated(OK) until a stop or a fence begins. The
  // host, the process and monitoring ask this; none keeps a copy.
  bool serving() const { return role_ == Role::kActive; }
  // Active: our epoch. Standby: the highest epoch heard.
  uint64_t epoch() const { return epoch_; }
  const std::string& name() const { return options_.name; }
  bool lock_in_flight() const { return standby_.lock_in_flight(); }
  // Where the standby stands between lock attempts (kIdle once it is not standing by).
  StandbyState standby_state() const { return standby_.state(); }
  // The store the group serves: ours once active, else as heard or read ("" while unknown).
  const std::string& store_id() const { return store_id_; }
  // True once any member of the group was heard (a signed heartbeat of our store).
  bool heard_group() const { return heard_group_; }
  // Why the last lock attempts failed when that was not Busy (the store cannot be used, and a
  // retry is due); OK otherwise.
  const Status& store_error() const { return store_error_; }
  // Peers heard recently, with the age of their last heartbeat; sorted by name.
  std::vector<PeerStatus> peers() const;
  // Alive standbys (what the active reports).
  size_t live_standbys() const;
  // The period at which the host should call OnTick.
  int64_t tick_ms() const;
  int64_t window_ms() const { return options_.heartbeat_ms * options_.missed; }

 private:
  struct Peer {
    uint64_t instance = 0;
    Role role = Role::kStandby;
    uint64_t epoch = 0;
    int64_t last_ms = 0;
    bool alive = false;
    bool announced = false;  // "joined" logged once
  };

  void SetRole(Role role);
  void StartLockAttempt();
  void HandleStoreFailure(const Status& s);
  void TryLockSoon();  // at once if possible, else right after the attempt in flight
  void SendHeartbeat(Role as);
  void HandleStandbyTick(int64_t now);
  void HandleActiveTick(int64_t now);
  bool CheckStore();  // false once a store error fenced us
  void OnStoreError(const Status& status);
  void NotePeer(const Heartbeat& hb, int64_t now);
  bool PeerWins(const Heartbeat& hb) const;
  bool SameStore(const Heartbeat& hb, int64_t now);
  void FenceNow(const Status& why);
  void FinishStop(int code);

  const FailoverOptions options_;
  Clock* const clock_;
  FailoverHost* const host_;

  Role role_ = Role::kStandby;
  bool holds_lock_ = false;  // from a successful lock result until the store is closed
  uint64_t epoch_ = 0;
  uint64_t hb_seq_ = 0;
  int64_t next_hb_ms_ = 0;
  std::string store_id_;
  bool heard_group_ = false;
  int64_t next_foreign_log_ms_ = 0;  // "another store" warnings, at most one a second

  // Standby state: where it stands between attempts (an attempt in flight, the active heard or
  // lost, a retry due), then the deadlines and counters that go with it.
  StandbyMachine standby_;
  int64_t active_deadline_ms_ = 0;  // last active heartbeat + window
  int64_t next_lock_ms_ = 0;
  // Until then a Busy answer is retried every kFreedRetryMs, not every retry interval: the
  // active's lock was freed (OnActiveLockFreed), so its store lock is about to be free too (the
  // kernel frees a dead process's locks one descriptor after the other).
  int64_t lock_freed_until_ms_ = 0;
  int busy_count_ = 0;      // consecutive Busy results (log throttling)
  int store_failures_ = 0;  // consecutive results that were neither OK nor Busy
  Status store_error_;      // the last of those, while they last
  std::string active_name_;

  // Active state.
  bool stop_requested_ = false;
  bool verifying_ = false;         // a VerifyOwnership is in flight
  int64_t next_claim_log_ms_ = 0;  // "claim contradicted" warnings, at most one a second
  bool degraded_ = false;          // "degraded: no standby" logged and not yet cleared
  int64_t degraded_check_ms_ = 0;
  std::map<std::string, Peer> peers_;  // by name: a restarted peer keeps its entry
};

}  // namespace tandem::ft
