// store_writer.cc: submits sealed batches from a uv_prepare_t, up to kMaxInFlight (two) at a
// time, and runs the continuations of each batch when the store reports its commit.
#include "server/stan/store_writer.h"

#include <algorithm>
#include <memory>
#include <utility>

#include <spdlog/spdlog.h>

namespace tandem::server {

StoreWriter::StoreWriter(uv_loop_t* loop, store::Store* store) : loop_(loop), store_(store) {
  uv_prepare_init(loop_, &prepare_);
  prepare_.data = this;
  uv_prepare_start(&prepare_, PrepareCb);
  // The prepare handle must not keep the loop alive on its own.
  uv_unref(reinterpret_cast<uv_handle_t*>(&prepare_));
}

StoreWriter::~StoreWriter() { *alive_ = false; }

void StoreWriter::PrepareCb(uv_prepare_t* p) noexcept {
  static_cast<StoreWriter*>(p->data)->Flush();
}

void StoreWriter::Seal() {
  if (before_submit_) before_submit_();
  if (current_.batch.empty() && current_.continuations.empty()) return;
  const size_t ops = current_.batch.size(), bytes = current_.batch.bytes();
  sealed_.push_back(std::move(current_));
  current_ = Pending{};
  current_.batch.Reserve(ops, bytes);
}

void StoreWriter::Flush() {
  while (in_flight_ < kMaxInFlight && !sealed_.empty()) {
    Pending p = std::move(sealed_.front());
    sealed_.pop_front();
    Submit(std::move(p));
  }
  if (in_flight_ >= kMaxInFlight) return;
  if (before_submit_) before_submit_();
  if (current_.batch.empty() && current_.continuations.empty()) return;
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
    for (auto& c : p.continuations) c(error_, store::BatchResult{});
    return;
  }
  ++in_flight_;
  std::weak_ptr<bool> alive = alive_;
  const size_t ops = p.batch.size();
  const uint64_t submitted_ns = uv_hrtime();
  store_->Submit(std::move(p.batch),
                 [this, alive, ops, submitted_ns, conts = std::move(p.continuations)](
                     const Status& s, const store::BatchResult& r) mutable {
                   if (alive.expired()) return;
                   if (s.ok() && commit_observer_) {
                     commit_observer_(ops, static_cast<int64_t>(uv_hrtime() - submitted_ns));
                   }
                   Done(s, r, std::move(conts));
                 });
}

void StoreWriter::Done(const Status& s, const store::BatchResult& r,
                       std::vector<Continuation> conts) {
  --in_flight_;
  if (!s.ok() && error_.ok()) {
    error_ = s;
    spdlog::error("stan: store commit failed, no more acknowledgements: {}", s.ToString());
    if (on_error_) on_error_(s);
  }
  if (s.ok()) ++committed_;
  // The next batch goes to the store before this one's continuations run (deliveries and
  // PubAcks take loop time): the store thread does not wait for the loop.
  Flush();
  for (auto& c : conts) c(s, r);
  // After Close() there is no prepare pass any more: submit what the continuations added.
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
  uv_prepare_stop(&prepare_);
  uv_close(reinterpret_cast<uv_handle_t*>(&prepare_), nullptr);
}

}  // namespace tandem::server
