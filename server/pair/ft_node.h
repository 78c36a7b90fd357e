// ft_node.h: the server side of fault tolerance. FtNode implements ft::FailoverHost for the
// process: it runs the lock attempts (ft::StoreLocker), carries heartbeats (a PeerLink to the
// active while standing by; the core's in-process client (a Bus) on `_STAN.ft.<cluster>.<group>`
// while active, plus a PeerLink to any other peer to notice a second active; on an external
// NATS cluster, that cluster's Bus on every member and the active's lock, ft/active_lock.h,
// instead of any PeerLink), ticks the Failover from a loop timer, reports the role to systemd,
// and asks the process (Delegate, i.e. App) to serve, to stop serving and to exit.
//
// Exit statuses it causes (the table in README.md, which drill scripts and systemd units rely
// on): 0 after a graceful stop; 1 when the instance cannot start serving: the store cannot be
// used (a lock attempt failed with anything but Busy, ft/store_failure.h) or an activation
// failed (the lock was won but recovery, the client port or the streaming layer failed: nothing
// was served, so it is a failed start, and the store is closed on the way out); kExitFenced (3)
// when an active must stop without another write (another active with a higher epoch, a sticky
// store error). A fenced exit is immediate (_exit after flushing the log): no destructor, no
// store write, no flush to clients; the kernel frees the store lock.
//
// Ownership: borrows the loop, the Delegate and the SystemdNotifier, which outlive it. Owns the
// Failover, the StoreLocker, its timer and peer links; Close() them before destruction.
// Thread safety: loop thread only.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "ft/active_lock.h"
#include "ft/failover.h"
#include "ft/ft_options.h"
#include "ft/store_locker.h"
#include "store/status.h"
#include "store/store.h"

namespace tandem::server {

class DiskSpace;
class Bus;
class PeerLink;
class SystemdNotifier;
class TlsContext;

constexpr int kExitFenced = 3;

class FtNode final : public ft::FailoverHost {
 public:
  // What FtNode needs from the process. Every call on the loop thread.
  class Delegate {
   public:
    // Become active with this store: recover, bind the client port, start the streaming layer,
    // then `done` (on the loop) with the outcome.
    virtual void Serve(std::unique_ptr<store::Store> store, std::function<void(Status)> done) = 0;
    // The core's in-process client, once serving (heartbeats of the active).
    virtual Bus* HeartbeatClient() = 0;
    // Stop accepting, stop the streaming layer after the batch in flight, close the store (which
    // frees the lock), then `done` with the outcome of the close.
    virtual void StopServing(std::function<void(Status)> done) = 0;
    // The open store's sticky error; OK while healthy or when no store is open. The role
    // machine asks it on every tick while it serves: the one way store errors reach it.
    virtual Status StoreHealth() = 0;
    // Runs a transaction that checks the store's epoch is still ours, then `done` (on the
    // loop) with OK, or Fenced when another instance took the store over.
    virtual void VerifyStoreOwnership(std::function<void(Status)> done) = 0;
    // Graceful end: shut the process down and exit with `code`.
    virtual void Exit(int code) = 0;

   protected:
    ~Delegate() = default;
  };

  struct Options {
    ft::FtOptions ft;
    std::string cluster_id;
    store::StoreOptions store;
    std::string listen;  // our own client address "host:port", left out of the active's link
    std::shared_ptr<TlsContext> tls;  // the peer links' TLS (`ft.tls`); null: plain TCP
    // An external NATS cluster's Bus (nats.servers), borrowed: every member subscribes to the
    // heartbeat subject on it from the start and publishes its heartbeats there; no peer
    // links. Null: the embedded core (peer links while standing by).
    Bus* bus = nullptr;
  };

  FtNode(uv_loop_t* loop, Options options, Delegate* delegate, SystemdNotifier* systemd);
  ~FtNode();
  FtNode(const FtNode&) = delete;
  FtNode& operator=(const FtNode&) = delete;

  // A lock attempt waits while `disk` has no room, and starts when it has (see disk_space.h).
  // Borrowed; call before Start.
  void SetDiskSpace(DiskSpace* disk);
  // Reads the store identity file (a member configured with another cluster id or group than
  // the store records is refused here, before it tries the lock), then starts the role
  // machine. An error means the process must not start.
  Status Start();
  void RequestStop();
  // Stops the timer and closes the peer links; `done` once every handle is closed.
  void Close(std::function<void()> done);

  ft::Role role() const { return failover_->role(); }
  // Is this process serving? The role machine's answer (ft::Failover::serving); FtNode keeps
  // no copy of it.
  bool serving() const { return failover_->serving(); }
  uint64_t epoch() const { return failover_->epoch(); }
  const std::string& name() const { return failover_->name(); }
  std::vector<ft::PeerStatus> peers() const { return failover_->peers(); }
  bool in_group() const { return !options_.ft.group.empty(); }
  // The group's member token (ft::MemberToken of the store's group key), made once per key;
  // set before Delegate::Serve is called. The core admits CONNECTs that carry it.
  const std::string& member_token() const { return member_token_; }
  // Why the last lock attempts found the store unusable (not Busy); OK otherwise.
  const Status& store_error() const { return failover_->store_error(); }
  // The role is known: the first lock attempt answered Busy (standby) or the lock was won.
  bool settled() const { return settled_; }

  // ft::FailoverHost
  void TryLock() override;
  void Activate(std::unique_ptr<store::Store> store) override;
  void SendHeartbeat(const ft::Heartbeat& hb) override;
  void StopServing() override;
  void Fence(const Status& why) override;
  void Exit(int code) override;
  void RoleChanged(ft::Role role, uint64_t epoch) override;
  void VerifyOwnership() override;
  Status StoreHealth() override { return delegate_->StoreHealth(); }

 private:
  // Where the lock attempt Failover asked for (TryLock) stands on this side, until its answer
  // goes to Failover::OnLockResult.
  enum class AttemptStep {
    kNone,             // no attempt asked for, or its answer was handed on
    kWaitingForRoom,   // the store's disk is short of room: starts when it has room
    kOpening,          // at the StoreLocker (creation rule and Store::Open on the pool)
    kWaitingForGroup,  // a first start found nothing at the path: starts again once the group
                       // was heard or had two heartbeat windows to be
  };

  void OnLockAnswer(ft::StoreLocker::Answer answer);
  void OnLockResult(Result<std::unique_ptr<store::Store>> result);
  void OnDiskRoom();
  // The next lock attempt: the identity checks, and whether it must wait for the group before
  // it may create a store (the attempt itself looks at the files, off the loop).
  // A first start in a group: still within the two heartbeat windows it listens before it
  // may create a store, and no member heard yet.
  bool ListeningForGroup() const;
  ft::LockAttempt NextAttempt() const;
  // Reads the identity file; a newly learnt group key restarts the standby's link with it.
  Status LoadIdentity();
  void SetGroupKey(const std::string& key);
  void OnHeartbeatPayload(std::string_view payload);
  // Subscribes to the heartbeat subject on `bus`, which then carries ours too (hb_client_).
  void SubscribeHeartbeats(Bus* bus);
  // Active with an external cluster: takes the active lock if it is not held yet.
  void HoldActiveLock();
  void OpenStandbyLink();
  void OpenActiveLink();
  void CloseLink(std::unique_ptr<PeerLink>& link, std::function<void()> done);
  void UpdateSystemd();
  static void TickCb(uv_timer_t* handle) noexcept;

  // Constant after construction.
  uv_loop_t* const loop_;
  const Options options_;
  Delegate* const delegate_;
  SystemdNotifier* const systemd_;
  const std::string subject_;

  std::unique_ptr<ft::Failover> failover_;
  ft::StoreLocker locker_;
  uv_timer_t tick_{};
  std::unique_ptr<PeerLink> link_;  // standby: to the active; active: to other peers
  // With an external cluster (no link whose drop tells of the active's death): the lock next to
  // the store that the active holds and a standby waits on (ft/active_lock.h).
  std::unique_ptr<ft::ActiveLock> active_lock_;
  std::vector<std::unique_ptr<PeerLink>> closing_links_;
  DiskSpace* disk_ = nullptr;
  AttemptStep attempt_ = AttemptStep::kNone;
  bool disk_full_logged_ = false;  // a lock attempt found the disk full
  // The core's client, from a successful activation until Close (so through a graceful stop:
  // the last "stopping" heartbeat goes out on it); with an external cluster, its Bus from
  // Start until Close.
  Bus* hb_client_ = nullptr;
  uint64_t hb_sid_ = 0;
  std::string group_key_;     // "" until known (identity file or our store)
  std::string member_token_;  // from group_key_ (ft::MemberToken)
  int64_t start_ms_ = 0;
  int64_t next_bad_hb_log_ms_ = 0;
  bool settled_ = false;  // READY=1 sent
  bool closed_ = false;
  int pending_closes_ = 0;
  std::function<void()> close_done_;
};

}  // namespace tandem::server
