// store_writer.cc: submits batches, at most kMaxInFlight not yet applied at a time and in
// order, and runs the continuations of each batch when the store reports its commit and its
// sync (see store_writer.h).
#include "server/stan/store_writer.h"

#include <uv.h>

#include <algorithm>
#include <memory>
#include <utility>

#include <spdlog/spdlog.h>

namespace tandem::server {

StoreWriter::StoreWriter(store::Store* store) : store_(store) {}

StoreWriter::~StoreWriter() { *alive_ = false; }

void StoreWriter::Seal() {
  if (current_.empty()) return;
  const size_t ops = current_.batch.size(), bytes = current_.batch.bytes();
  sealed_.push_back(std::move(current_));
  current_ = Pending{};
  // The next one fills to about kSealOps before it is sealed in turn; whatever the sealed one
  // grew to beyond that (the rows of a flush) is no guide.
  current_.batch.Reserve(std::min(ops, kSealOps + 64), bytes);
}

void StoreWriter::SubmitSealed() {
  while (in_flight_ < kMaxInFlight && !sealed_.empty()) {
    Pending p = std::move(sealed_.front());
    sealed_.pop_front();
    Submit(std::move(p));
  }
}

void StoreWriter::Flush() {
  SubmitSealed();
  if (in_flight_ >= kMaxInFlight) return;
  if (current_.empty()) return;
  Pending p = std::move(current_);
  current_ = Pending{};
  // The next batch will likely be about as large as this one.
  const size_t ops = p.batch.size(), bytes = p.batch.bytes();
  current_.batch.Reserve(std::min(ops + ops / 4, kSealOps + 64), bytes + bytes / 4);
  Submit(std::move(p));
}

void StoreWriter::Submit(Pending p) {
  if (!error_.ok()) {
    // Sticky: nothing more is written; continuations learn why.
    for (auto& c : p.applied) c(error_, store::BatchResult{});
    for (auto& c : p.continuations) c(error_, store::BatchResult{});
    return;
  }
  ++in_flight_;
  std::weak_ptr<bool> alive = alive_;
  const size_t ops = p.batch.size();
  // Nothing waits for it to be durable: its sync may wait to be shared (store.h).
  const bool unwaited = p.continuations.empty();
  if (unwaited) p.batch.set_unwaited();
  const uint64_t submitted_ns = uv_hrtime();
  store_->SubmitStaged(
      std::move(p.batch),
      [this, alive, ops, submitted_ns, unwaited, applied = std::move(p.applied)](
          const Status& s, const store::BatchResult& r) mutable {
        if (alive.expired()) return;
        if (unwaited) Observe(s, ops, submitted_ns);  // its sync may be held back on purpose
        Applied(s, r, std::move(applied));
      },
      [this, alive, ops, submitted_ns, unwaited, conts = std::move(p.continuations)](
          const Status& s, const store::BatchResult& r) mutable {
        if (alive.expired()) return;
        if (!unwaited) Observe(s, ops, submitted_ns);
        Done(s, r, std::move(conts));
      });
}

void StoreWriter::Observe(const Status& s, size_t ops, uint64_t submitted_ns) {
  if (s.ok() && commit_observer_) {
    commit_observer_(ops, static_cast<int64_t>(uv_hrtime() - submitted_ns));
  }
}

void StoreWriter::NoteStatus(const Status& s) {
  if (s.ok() || !error_.ok()) return;
  error_ = s;
  spdlog::error("stan: store commit failed, no more acknowledgements: {}", s.ToString());
  if (on_error_) on_error_(s);
}

void StoreWriter::Applied(const Status& s, const store::BatchResult& r,
                          std::vector<Continuation> conts) {
  --in_flight_;
  ++syncing_;
  NoteStatus(s);
  // Batches sealed while this one was in flight go to the store before its continuations run
  // (deliveries take loop time): the store thread does not wait for the loop. The batch being
  // filled is the owner's to complete; its applied continuation flushes it.
  SubmitSealed();
  for (auto& c : conts) c(s, r);
  AfterContinuations();
}

void StoreWriter::Done(const Status& s, const store::BatchResult& r,
                       std::vector<Continuation> conts) {
  --syncing_;
  NoteStatus(s);
  if (s.ok()) ++committed_;
  for (auto& c : conts) c(s, r);
  AfterContinuations();
}

void StoreWriter::AfterContinuations() {
  // After Close() the owner flushes no more: submit what the continuations added.
  if (closed_) Flush();
  if (idle() && !drained_.empty()) {
    auto waiters = std::move(drained_);
    drained_.clear();
    for (auto& w : waiters) w();
  }
}

void StoreWriter::Drain(std::function<void()> done) {
  Flush();
  if (idle()) {
    done();
    return;
  }
  drained_.push_back(std::move(done));
}

void StoreWriter::Close() {
  if (closed_) return;
  closed_ = true;
  Flush();
}

}  // namespace tandem::server
