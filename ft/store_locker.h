// store_locker.h: tries the fault-tolerance lock without blocking the loop. One attempt runs on
// a libuv pool thread: it decides whether the store may be created (creation_rule.h, which lists
// the store directory), then runs store::Store::Open (which takes the exclusive SQLite lock and
// bumps the epoch, or fails with Busy), and hands the answer back on the loop thread. Nothing of
// an attempt touches the file system on the loop.
//
// Used by server/ to implement FailoverHost::TryLock.
//
// Ownership: borrows the loop. Each attempt is a heap job that owns itself until its
// after-work callback; if the StoreLocker is gone by then, a store that was opened is closed
// again (freeing the lock) instead of being handed to nobody.
// Thread safety: loop thread only; only the job's work function runs on the pool.
#pragma once

#include <functional>
#include <memory>
#include <optional>

#include "store/status.h"
#include "store/store.h"

typedef struct uv_loop_s uv_loop_t;
typedef struct uv_work_s uv_work_t;

namespace tandem::ft {

// One attempt. `options.no_create_reason` is decided by the attempt itself.
struct LockAttempt {
  store::StoreOptions options;
  // A first start in a group that has not heard the group yet: with nothing at the path, the
  // attempt stops before Open instead of creating the store.
  bool wait_for_group = false;
};

class StoreLocker {
 public:
  // Store::Open's result, or nullopt when the attempt stopped before Open to wait for the
  // group (LockAttempt::wait_for_group; nothing was opened or created).
  using Answer = std::optional<Result<std::unique_ptr<store::Store>>>;
  using Done = std::function<void(Answer)>;

  explicit StoreLocker(uv_loop_t* loop);
  ~StoreLocker();
  StoreLocker(const StoreLocker&) = delete;
  StoreLocker& operator=(const StoreLocker&) = delete;

  // Starts one attempt; `done` runs on the loop thread.
  // REQUIRES: !in_flight().
  void TryLock(const LockAttempt& attempt, Done done);
  bool in_flight() const { return job_ != nullptr; }

 private:
  struct Job;
  static void WorkCb(uv_work_t* req) noexcept;
  static void AfterWorkCb(uv_work_t* req, int status) noexcept;

  uv_loop_t* const loop_;
  Job* job_ = nullptr;  // the attempt in flight, owned by itself
};

}  // namespace tandem::ft
