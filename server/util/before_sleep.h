// before_sleep.h: the one "before the loop sleeps" sequence of the process. An ordered list of
// named steps, registered at start-up, that runs once per loop pass just before libuv polls
// for I/O (one uv_prepare_t), always in the order the steps were added. Whoever runs the loop
// owns it (App); the pieces it calls expose a plain method and own no prepare handle, so the
// order of their work is written down in one place instead of following from the order in
// which libuv happens to run its handles.
//
// A step may add work for a later step of the same pass (a step that routes messages fills
// outbound queues that a later step flushes); the sequence runs each step once per pass, so a
// step that must see what a later step adds waits for the next pass.
//
// Per pass: no allocation (the steps are fixed; running them only calls them).
//
// Ownership: borrows the loop; owns its uv_prepare_t, closed by Close() (required before the
// loop closes; the object must outlive the close callback, which is none). The handle does not
// keep the loop alive. Thread safety: loop thread only.
#pragma once

#include <uv.h>

#include <functional>
#include <string>
#include <vector>

namespace tandem::server {

class BeforeSleep {
 public:
  explicit BeforeSleep(uv_loop_t* loop);
  BeforeSleep(const BeforeSleep&) = delete;
  BeforeSleep& operator=(const BeforeSleep&) = delete;

  // Appends a step; it runs after every step added before it. `name` is for logs and tests.
  void Add(std::string name, std::function<void()> step);
  // Runs every step once, in order (what each loop pass does; also callable directly).
  void Run();
  // The steps' names, in running order.
  std::vector<std::string> names() const;
  // Passes so far (monitoring and tests).
  uint64_t passes() const { return passes_; }
  // Stops and closes the prepare handle; no step runs after it. May be called more than once.
  void Close();

 private:
  struct Step {
    std::string name;
    std::function<void()> fn;
  };
  static void PrepareCb(uv_prepare_t* p) noexcept;

  uv_prepare_t prepare_{};
  std::vector<Step> steps_;
  uint64_t passes_ = 0;
  bool closed_ = false;
};

}  // namespace tandem::server
