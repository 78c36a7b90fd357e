// store_locker.h: tries the fault-tolerance lock without blocking the loop. One attempt runs
// store::Store::Open (which takes the exclusive SQLite lock and bumps the epoch, or fails with
// Busy) on a libuv pool thread and hands the result back on the loop thread.
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

#include "store/status.h"
#include "store/store.h"

typedef struct uv_loop_s uv_loop_t;
typedef struct uv_work_s uv_work_t;

namespace tandem::ft {

class StoreLocker {
 public:
  using Done = std::function<void(Result<std::unique_ptr<store::Store>>)>;

  explicit StoreLocker(uv_loop_t* loop);
  ~StoreLocker();
  StoreLocker(const StoreLocker&) = delete;
  StoreLocker& operator=(const StoreLocker&) = delete;

  // Starts one attempt with these options; `done` runs on the loop thread.
  // REQUIRES: !in_flight().
  void TryLock(const store::StoreOptions& options, Done done);
  bool in_flight() const { return job_ != nullptr; }

 private:
  struct Job;
  static void WorkCb(uv_work_t* req) noexcept;
  static void AfterWorkCb(uv_work_t* req, int status) noexcept;

  uv_loop_t* const loop_;
  Job* job_ = nullptr;  // the attempt in flight, owned by itself
};

}  // namespace tandem::ft
