// pool_job.h: one job on the libuv thread pool, as two closures: `work` on a pool thread, then
// `after` on the loop thread. Owns the uv_work_t for the job's life, so callers keep no request.
//
// Thread safety: call QueuePoolJob on the loop thread; `work` must touch only what it owns or
// what nothing else touches until `after` runs.
#pragma once

#include <uv.h>

#include <functional>

namespace tandem::server {

// Queues the job. `after` gets 0, or UV_ECANCELED when the job was cancelled before it ran (then
// `work` did not run). Returns uv_queue_work's error (negative) when the job could not be queued:
// then neither closure runs and the caller decides what to do instead.
int QueuePoolJob(uv_loop_t* loop, std::function<void()> work, std::function<void(int)> after);

}  // namespace tandem::server
