// pool_job.cc: the libuv pool job behind QueuePoolJob (see pool_job.h).
#include "server/util/pool_job.h"

#include <memory>
#include <utility>

namespace tandem::server {
namespace {

struct PoolJob {
  uv_work_t req{};
  std::function<void()> work;
  std::function<void(int)> after;
};

}  // namespace

int QueuePoolJob(uv_loop_t* loop, std::function<void()> work, std::function<void(int)> after) {
  auto job = std::make_unique<PoolJob>();
  job->work = std::move(work);
  job->after = std::move(after);
  job->req.data = job.get();
  int rc = uv_queue_work(
      loop, &job->req, [](uv_work_t* r) noexcept { static_cast<PoolJob*>(r->data)->work(); },
      [](uv_work_t* r, int status) noexcept {
        std::unique_ptr<PoolJob> owned(static_cast<PoolJob*>(r->data));
        owned->after(status);
      });
  if (rc == 0) job.release();  // owned by the loop until the after callback
  return rc;
}

}  // namespace tandem::server
