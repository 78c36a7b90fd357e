// store_locker.cc: one lock attempt = Store::Open on a pool thread (see store_locker.h).
#include "ft/store_locker.h"

#include <uv.h>

#include <cassert>
#include <optional>

namespace tandem::ft {

struct StoreLocker::Job {
  uv_work_t req;
  StoreLocker* owner;  // null once the locker is destroyed
  store::StoreOptions options;
  uv_loop_t* loop;
  Done done;
  std::optional<Result<std::unique_ptr<store::Store>>> result;
};

StoreLocker::StoreLocker(uv_loop_t* loop) : loop_(loop) {}

StoreLocker::~StoreLocker() {
  if (job_) job_->owner = nullptr;
}

void StoreLocker::TryLock(const store::StoreOptions& options, Done done) {
  assert(!in_flight());
  auto* job = new Job{};
  job->req.data = job;
  job->owner = this;
  job->options = options;
  job->loop = loop_;
  job->done = std::move(done);
  int rc = uv_queue_work(loop_, &job->req, WorkCb, AfterWorkCb);
  if (rc != 0) {
    Done cb = std::move(job->done);
    delete job;
    cb(Status::IOError("ft: uv_queue_work", uv_strerror(rc)));
    return;
  }
  job_ = job;
}

void StoreLocker::WorkCb(uv_work_t* req) noexcept {
  auto* job = static_cast<Job*>(req->data);
  job->result.emplace(store::Store::Open(job->options, job->loop));
}

void StoreLocker::AfterWorkCb(uv_work_t* req, int status) noexcept {
  std::unique_ptr<Job> job(static_cast<Job*>(req->data));
  Result<std::unique_ptr<store::Store>> result =
      job->result ? std::move(*job->result)
                  : Result<std::unique_ptr<store::Store>>(
                        Status::IOError("ft: lock attempt cancelled", uv_strerror(status)));
  if (job->owner == nullptr) {
    if (result.ok()) result.value()->Close().IgnoreError();  // nobody wants it: free the lock
    return;
  }
  job->owner->job_ = nullptr;
  job->done(std::move(result));
}

}  // namespace tandem::ft
