// sub_reaper.h: removes the subscriptions of closed connections from routing a slice at a time,
// so that closing a connection that holds a million of them never stalls the loop.
//
// A connection that closes retires at once (Subscriber::retired: from then on none of its
// subscriptions receives anything, wherever they still are) and removes a first batch itself.
// If some remain, its owner hands it to the SubReaper, which keeps it alive and removes the rest
// from a uv_idle_t: one slice per loop pass, each bounded by kSliceNs of work, and the loop
// polls without blocking while the idle handle is active, so every other client is served
// between two slices. A drained connection is destroyed.
//
// Memory: when a run (until nothing is left) removed at least kTrimAfter subscriptions, the
// reaper calls malloc_trim(0). glibc gives freed memory back to the system by itself only from
// the top of its heap; the few hundred bytes of each of a million subscriptions lie everywhere
// in it and would otherwise stay resident after they are freed. That one call costs a pause
// proportional to the memory returned (about 35-55 ms for a million subscriptions).
//
// Start also turns glibc's fastbins off (mallopt M_MXFAST 0, process-wide). With them, the
// millions of small blocks freed by a mass removal pile up unmerged until some large free or
// allocation merges them all in one go (malloc_consolidate): a single call that blocked the loop
// for 1.3 s after a million subscriptions were freed. Without them a freed block is merged at
// once (small blocks still go through the per-thread cache first), so the cost stays spread
// over the slices.
//
// Ownership: NatsServer owns the SubReaper; the SubReaper owns the handed-over subscribers until
// they are drained, and its uv_idle_t (closed by Close). Thread safety: loop thread only.
#pragma once

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>

namespace tandem::server {

// What the reaper drains: a closed subscriber whose subscriptions are still in the Router.
class Reapable {
 public:
  virtual ~Reapable() = default;
  // Removes at most `max` of its subscriptions from routing and returns how many it removed:
  // fewer than `max` means that none is left.
  virtual size_t RemoveSubscriptions(size_t max) = 0;
};

class SubReaper {
 public:
  // Work per slice, and removals between two looks at the clock.
  static constexpr uint64_t kSliceNs = 1000000;
  static constexpr size_t kBatch = 256;
  static constexpr size_t kTrimAfter = 10000;

  // Borrows `loop`, which must outlive the reaper.
  explicit SubReaper(uv_loop_t* loop);
  // REQUIRES: Close completed, or Start never called.
  ~SubReaper();
  SubReaper(const SubReaper&) = delete;
  SubReaper& operator=(const SubReaper&) = delete;

  // Initialises the idle handle (and turns fastbins off, see above); from then on Close must run
  // before the loop is closed.
  void Start();
  // Takes `r` over and drains it over the next loop passes. REQUIRES: Start, and not Close.
  void Add(std::unique_ptr<Reapable> r);
  // Removes subscriptions for about `budget_ns` (at least one batch); true if some remain.
  // The idle handle calls it; tests may too.
  bool RunSlice(uint64_t budget_ns);
  // Closes the idle handle once everything handed over is drained; `closed` runs after that.
  void Close(std::function<void()> closed);

  size_t pending() const { return jobs_.size(); }
  // Subscriptions removed since the start, and the slices that removed them.
  uint64_t removed() const { return removed_; }
  uint64_t slices() const { return slices_; }

 private:
  static void IdleCb(uv_idle_t* h) noexcept;
  static void CloseCb(uv_handle_t* h) noexcept;
  void OnIdle();
  void FinishRun();

  uv_loop_t* const loop_;
  uv_idle_t idle_{};
  bool started_ = false;
  std::deque<std::unique_ptr<Reapable>> jobs_;
  uint64_t removed_ = 0;
  uint64_t slices_ = 0;
  // The run in progress: removals and slices since the reaper last had nothing to do.
  uint64_t run_removed_ = 0;
  uint64_t run_slices_ = 0;
  uint64_t run_start_ns_ = 0;
  uint64_t run_longest_ns_ = 0;
  bool closing_ = false;
  bool closed_ = false;
  std::function<void()> on_closed_;
};

}  // namespace tandem::server
