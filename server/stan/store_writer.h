// store_writer.h: the loop side of group commit. Everything the streaming layer persists goes
// into the current store::WriteBatch; Flush() submits it if fewer than kMaxInFlight batches are
// in flight, i.e. submitted and not yet applied: two, so that the store thread has the next one
// at hand when it finishes a commit. Beyond that the next one fills. A batch counts as in
// flight only until its transaction commits, not until its sync: batches applied meanwhile
// join the next fdatasync of the store's sync thread (store/sqlite_store.h, "Sync") instead of
// waiting in the loop behind the batches being synced.
//
// Two kinds of continuation run, each in registration order, for the batch that was current
// when they were registered: OnApplied() ones once its transaction has committed (visible to
// reads; the place to deliver what it holds), OnCommit() ones once it is durable (the place to
// acknowledge). A failure reaches both. A batch without OnCommit continuations is submitted
// as unwaited (store::WriteBatch::set_unwaited): the store may hold its sync back to share it
// with the next batch, so its durable completion may come up to a few milliseconds late.
//
// The writer calls nobody but the store and the continuations: its owner (StanServer) decides
// when a batch is complete. Once per loop pass, in the process's before-sleep sequence, the
// owner adds what it coalesced during the pass and calls Flush(); when a batch is applied, the
// owner's applied continuation of that batch does the same first, so the store gets the next
// batch before the loop spends time on deliveries. Applied() itself only submits batches
// already sealed.
//
// A batch is also closed early once it holds kSealOps operations (full(), then Seal(), called
// by the publish path between messages); closed batches wait in order behind those in flight.
// This bounds the time from a message's arrival to its PubAck: publishers limit the acks they
// have in flight (16384 by default, resuming only below half of that), and one commit of the
// whole window would leave the store idle while the publisher waits for it, then refills.
//
// A failed commit is sticky (store.h): every continuation of that and later batches sees the
// error (those submitted later at once, from Flush), and on_error (set once) is told the first
// time. The streaming layer then stops acknowledging; nothing is retried.
//
// Ownership: borrows the Store, which must outlive the writer. Thread safety: loop thread
// only.
#pragma once

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

  explicit StoreWriter(store::Store* store);
  ~StoreWriter();
  StoreWriter(const StoreWriter&) = delete;
  StoreWriter& operator=(const StoreWriter&) = delete;

  // The batch being filled. Valid until the next Seal or Flush.
  store::WriteBatch& batch() { return current_.batch; }
  // Runs `c` after the current batch is durable (committed and, with store.sync=full, synced).
  void OnCommit(Continuation c) { current_.continuations.push_back(std::move(c)); }
  // Runs `c` after the current batch's transaction committed, before its sync.
  void OnApplied(Continuation c) { current_.applied.push_back(std::move(c)); }
  void SetOnError(std::function<void(const Status&)> fn) { on_error_ = std::move(fn); }
  // Monitoring: told after each successful commit how many ops the batch held and how long it
  // took from Submit to its durable completion on the loop (to its applied completion for an
  // unwaited batch, whose sync may be held back on purpose).
  using CommitObserver = std::function<void(size_t ops, int64_t latency_ns)>;
  void SetCommitObserver(CommitObserver fn) { commit_observer_ = std::move(fn); }

  static constexpr size_t kSealOps = 2048;
  static constexpr int kMaxInFlight = 2;
  // True when the current batch holds kSealOps operations or more: time to Seal() it.
  bool full() const { return current_.batch.size() >= kSealOps; }
  // Closes the current batch (when it holds anything); it is submitted after those ahead of it.
  void Seal();
  // True when the next Flush() submits the current batch: nothing sealed is waiting and fewer
  // than kMaxInFlight are in flight. An owner completes the batch only then.
  bool room_for_current() const { return in_flight_ < kMaxInFlight && sealed_.empty(); }
  // Submits the sealed batches, oldest first, while fewer than kMaxInFlight are in flight.
  void SubmitSealed();
  // SubmitSealed(), then the current batch when there is room for it.
  void Flush();
  // True when nothing is queued, in flight nor waiting for its sync.
  bool idle() const {
    return in_flight_ == 0 && syncing_ == 0 && sealed_.empty() && current_.empty();
  }
  const Status& error() const { return error_; }
  uint64_t batches_committed() const { return committed_; }

  // Runs `done` once everything registered so far has committed (at once when idle).
  void Drain(std::function<void()> done);
  // The owner stops flushing every pass: from now on what a completion's continuations add is
  // submitted by the writer itself, right after them.
  void Close();

 private:
  struct Pending {
    store::WriteBatch batch;
    std::vector<Continuation> applied;
    std::vector<Continuation> continuations;
    bool empty() const { return batch.empty() && applied.empty() && continuations.empty(); }
  };
  void Submit(Pending p);
  void Applied(const Status& s, const store::BatchResult& r, std::vector<Continuation> conts);
  void Done(const Status& s, const store::BatchResult& r, std::vector<Continuation> conts);
  void Observe(const Status& s, size_t ops, uint64_t submitted_ns);
  // The first failure becomes the writer's sticky error and is reported once.
  void NoteStatus(const Status& s);
  // After Close(): submits what continuations added; then tells the Drain waiters when idle.
  void AfterContinuations();

  store::Store* const store_;
  bool closed_ = false;
  int in_flight_ = 0;  // submitted, applied completion not yet run; at most kMaxInFlight
  int syncing_ = 0;    // applied, durable completion not yet run
  Pending current_;
  std::deque<Pending> sealed_;  // closed early, oldest first, behind the one in flight
  Status error_;
  uint64_t committed_ = 0;
  std::function<void(const Status&)> on_error_;
  CommitObserver commit_observer_;
  std::vector<std::function<void()>> drained_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace tandem::server
