// sub_reaper.cc: the sliced removal of closed connections' subscriptions (see sub_reaper.h).
#include "server/nats/sub_reaper.h"

#include <malloc.h>

#include <algorithm>
#include <cassert>

#include <spdlog/spdlog.h>

namespace tandem::server {

SubReaper::SubReaper(uv_loop_t* loop) : loop_(loop) {}

SubReaper::~SubReaper() { assert(closed_ || !started_); }

void SubReaper::Start() {
  assert(!started_);
  uv_idle_init(loop_, &idle_);
  idle_.data = this;
  started_ = true;
  mallopt(M_MXFAST, 0);
}

void SubReaper::IdleCb(uv_idle_t* h) noexcept { static_cast<SubReaper*>(h->data)->OnIdle(); }

void SubReaper::CloseCb(uv_handle_t* h) noexcept {
  auto* r = static_cast<SubReaper*>(h->data);
  r->closed_ = true;
  if (r->on_closed_) {
    auto cb = std::move(r->on_closed_);
    r->on_closed_ = nullptr;
    cb();
  }
}

void SubReaper::Add(std::unique_ptr<Reapable> r) {
  assert(started_ && !closing_);
  if (jobs_.empty() && run_removed_ == 0) run_start_ns_ = uv_hrtime();
  jobs_.push_back(std::move(r));
  uv_idle_start(&idle_, IdleCb);
}

bool SubReaper::RunSlice(uint64_t budget_ns) {
  const uint64_t start = uv_hrtime();
  ++slices_;
  ++run_slices_;
  while (!jobs_.empty()) {
    const size_t n = jobs_.front()->RemoveSubscriptions(kBatch);
    removed_ += n;
    run_removed_ += n;
    if (n < kBatch) jobs_.pop_front();  // drained: destroys it
    if (uv_hrtime() - start >= budget_ns) break;
  }
  run_longest_ns_ = std::max(run_longest_ns_, uv_hrtime() - start);
  return !jobs_.empty();
}

void SubReaper::OnIdle() {
  if (RunSlice(kSliceNs)) return;
  uv_idle_stop(&idle_);
  FinishRun();
  if (closing_) uv_close(reinterpret_cast<uv_handle_t*>(&idle_), CloseCb);
}

void SubReaper::FinishRun() {
  if (run_removed_ >= kTrimAfter) {
    const uint64_t trim_start = uv_hrtime();
    malloc_trim(0);
    const uint64_t end = uv_hrtime();
    spdlog::info(
        "removed {} subscriptions of closed connections in {} ms ({} slices, the longest {:.1f} "
        "ms); returning the freed memory took {} ms",
        run_removed_, (trim_start - run_start_ns_) / 1000000, run_slices_,
        static_cast<double>(run_longest_ns_) / 1e6, (end - trim_start) / 1000000);
  }
  run_removed_ = 0;
  run_slices_ = 0;
  run_longest_ns_ = 0;
}

void SubReaper::Close(std::function<void()> closed) {
  if (closing_) return;
  closing_ = true;
  on_closed_ = std::move(closed);
  if (jobs_.empty()) uv_close(reinterpret_cast<uv_handle_t*>(&idle_), CloseCb);
}

}  // namespace tandem::server
