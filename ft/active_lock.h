// active_lock.h: the kernel's word that the active died. The active holds an open-file-
// description lock (fcntl F_OFD_SETLK, write lock on the whole file) on a file next to the store
// (`<store>.active`, e.g. store.db.active); a standby waits for that lock on a thread of its own
// (F_OFD_SETLKW). The kernel releases the lock the moment the holder's last descriptor closes,
// which a kill -9 does at once, so the standby learns of the death in about a millisecond instead
// of after `ft.missed` heartbeats. The standby does not keep the lock: it releases it at once and
// reports on the loop; the role machine (ft/failover.h) decides what that means (it tries the
// store lock, as when the link to the active drops). The store lock stays the only thing that
// makes an active; this lock is only a fast signal, and a wrong one costs a lock attempt that
// answers Busy.
//
// Why not the store's own lock: SQLite holds POSIX locks on store.db that a second waiter in
// our process could not wait on without SQLite's cooperation, and a blocking wait on them would
// be a wait SQLite does not know about. Why a thread of its own, not the libuv pool: the wait
// may last as long as the active lives, and the pool's four threads do the store's work.
//
// Use: the active calls Hold() after it won the store (and keeps the lock until it exits; a
// graceful stop needs no release: the "stopping" heartbeat and the store close already tell the
// standby). A standby calls Arm() once it heard an active (which holds the lock by then), and
// again after each report. Works wherever OFD locks do (local file systems; Linux >= 3.15).
//
// Ownership: borrows the loop. Close() before destruction; the waiting thread is detached and
// touches only shared state that outlives it (it is killed with the process if still waiting).
// Thread safety: loop thread only.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "store/status.h"

typedef struct uv_loop_s uv_loop_t;

namespace tandem::ft {

class ActiveLock {
 public:
  ActiveLock(uv_loop_t* loop, std::string path);
  ~ActiveLock();
  ActiveLock(const ActiveLock&) = delete;
  ActiveLock& operator=(const ActiveLock&) = delete;

  // Active: takes the lock without waiting. Busy when another process holds it (a standby that
  // was just told of a death and has not released it yet: the caller may try again later).
  Status Hold();
  bool held() const { return fd_ >= 0; }
  // Standby: waits for the lock on a thread; `on_free` runs once on the loop when the lock was
  // free (the holder died or there was none). No-op while a wait is armed.
  void Arm(std::function<void()> on_free);
  bool armed() const;
  const std::string& path() const { return path_; }
  // Stops reporting, closes the loop handle; `done` from its close callback.
  void Close(std::function<void()> done);

  struct Shared;  // internal: what the waiting thread shares with the loop

 private:
  uv_loop_t* const loop_;
  const std::string path_;
  int fd_ = -1;  // the held lock's descriptor
  std::shared_ptr<Shared> shared_;
};

}  // namespace tandem::ft
