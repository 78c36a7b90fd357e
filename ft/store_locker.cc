// store_locker.cc: one lock attempt = the creation rule and Store::Open on a pool thread (see
// store_locker.h).
#include "ft/store_locker.h"

#include <uv.h>

#include <cassert>
#include <optional>

#include "ft/creation_rule.h"
#include "store/identity.h"

namespace tandem::ft {

struct StoreLocker::Job {
  uv_work_t req;
  StoreLocker* owner;  // null once the locker is destroyed
  LockAttempt attempt;
  uv_loop_t* loop;
  Done done;
  bool ran = false;
  Answer answer;  // nullopt after running: the attempt waits for the group
};

StoreLocker::StoreLocker(uv_loop_t* loop) : loop_(loop) {}

StoreLocker::~StoreLocker() {
  if (job_) job_->owner = nullptr;
}

void StoreLocker::TryLock(const LockAttempt& attempt, Done done) {
  assert(!in_flight());
  auto* job = new Job{};
  job->req.data = job;
  job->owner = this;
  job->attempt = attempt;
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
  job->ran = true;
  store::StoreOptions& o = job->attempt.options;
  CreationDecision d =
      DecideCreation(store::StoreTrace(o.path), o.expect_store_id, job->attempt.wait_for_group);
  if (d.wait_for_group) return;  // answer nullopt: nothing opened
  o.no_create_reason = d.no_create_reason;
  job->answer.emplace(store::Store::Open(o, job->loop));
}

void StoreLocker::AfterWorkCb(uv_work_t* req, int status) noexcept {
  std::unique_ptr<Job> job(static_cast<Job*>(req->data));
  Answer answer = job->ran
                      ? std::move(job->answer)
                      : Answer(Status::IOError("ft: lock attempt cancelled", uv_strerror(status)));
  if (job->owner == nullptr) {
    // Nobody wants it: free the lock.
    if (answer && answer->ok()) answer->value()->Close().IgnoreError();
    return;
  }
  job->owner->job_ = nullptr;
  job->done(std::move(answer));
}

}  // namespace tandem::ft
