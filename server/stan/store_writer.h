// store_writer.h: the loop side of group commit. Everything the streaming layer persists goes
// into the current store::WriteBatch; once per loop pass (a uv_prepare_t, just before the loop
// polls) the batch is submitted if fewer than kMaxInFlight batches are in flight: two, so that
// the store applies one while the other is being flushed to disk (store/sqlite_store.h, "Sync").
// Beyond that the next one fills. Continuations registered with OnCommit() run, in registration order, after
// the batch that was current when they were registered has committed (or failed).
//
// A batch is also closed early once it holds kSealOps operations (SealIfFull, called by the
// publish path between messages); closed batches wait in order behind those in flight. This
// bounds the time from a message's arrival to its PubAck: publishers limit the acks they have
// in flight (16384 by default, resuming only below half of that), and one commit of the whole
// window would leave the store idle while the publisher waits for it, then refills.
//
// A failed commit is sticky (store.h): every continuation of that and later batches sees the
// error, and on_error (set once) is told the first time. The streaming layer then stops
// acknowledging; nothing is retried.
//
// Ownership: borrows the loop and the Store, which must outlive the writer; owns its
// uv_prepare_t (Close() before the loop closes). Thread safety: loop thread only.
#pragma once

#include <uv.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <vector>

#include "store/status.h"
#include "store/store.h"

namespace tandem::server {

class StoreWriter {
 public:
  using Continuation = std::function<void(const Status&, const store::BatchResult&)>;

  StoreWriter(uv_loop_t* loop, store::Store* store);
  ~StoreWriter();
  StoreWriter(const StoreWriter&) = delete;
  StoreWriter& operator=(const StoreWriter&) = delete;

  // The batch being filled. Valid until the next loop pass.
  store::WriteBatch& batch() { return current_.batch; }
  // Runs `c` after the current batch commits.
  void OnCommit(Continuation c) { current_.continuations.push_back(std::move(c)); }
  // Called just before each submission, so a caller can add what it coalesced during the pass
  // (positions, pending sets) and register one continuation for many operations.
  void SetBeforeSubmit(std::function<void()> hook) { before_submit_ = std::move(hook); }
  void SetOnError(std::function<void(const Status&)> fn) { on_error_ = std::move(fn); }
  // Monitoring: told after each successful commit how many ops the batch held and how long it
  // took from Submit to its completion on the loop.
  using CommitObserver = std::function<void(size_t ops, int64_t latency_ns)>;
  void SetCommitObserver(CommitObserver fn) { commit_observer_ = std::move(fn); }

  // Closes the current batch when it holds kSealOps operations or more (the before-submit hook
  // runs first, as for a submission); it is submitted after those ahead of it.
  static constexpr size_t kSealOps = 2048;
  static constexpr int kMaxInFlight = 2;
  void SealIfFull() {
    if (current_.batch.size() >= kSealOps) Seal();
  }
  // Submits now if nothing is in flight (also done automatically every loop pass).
  void Flush();
  // True when nothing is queued nor in flight.
  bool idle() const {
    return in_flight_ == 0 && sealed_.empty() && current_.batch.empty() &&
           current_.continuations.empty();
  }
  const Status& error() const { return error_; }
  uint64_t batches_committed() const { return committed_; }

  // Runs `done` once everything registered so far has committed (at once when idle).
  void Drain(std::function<void()> done);
  // Closes the prepare handle; later batches are submitted as soon as the one in flight is done.
  void Close();

 private:
  struct Pending {
    store::WriteBatch batch;
    std::vector<Continuation> continuations;
  };
  static void PrepareCb(uv_prepare_t* p) noexcept;
  void Seal();
  void Submit(Pending p);
  void Done(const Status& s, const store::BatchResult& r, std::vector<Continuation> conts);

  uv_loop_t* const loop_;
  store::Store* const store_;
  uv_prepare_t prepare_;
  bool closed_ = false;
  int in_flight_ = 0;  // submitted, completion not yet run; at most kMaxInFlight
  Pending current_;
  std::deque<Pending> sealed_;  // closed early, oldest first, behind the one in flight
  Status error_;
  uint64_t committed_ = 0;
  std::function<void()> before_submit_;
  std::function<void(const Status&)> on_error_;
  CommitObserver commit_observer_;
  std::vector<std::function<void()>> drained_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace tandem::server
