// before_sleep.cc: the prepare handle of the before-sleep sequence and the pass that runs its
// steps in order (see before_sleep.h).
#include "server/util/before_sleep.h"

#include <utility>

namespace tandem::server {

BeforeSleep::BeforeSleep(uv_loop_t* loop) {
  uv_prepare_init(loop, &prepare_);
  prepare_.data = this;
  uv_prepare_start(&prepare_, PrepareCb);
  // Work to do before sleeping is no reason to keep the loop alive.
  uv_unref(reinterpret_cast<uv_handle_t*>(&prepare_));
}

void BeforeSleep::PrepareCb(uv_prepare_t* p) noexcept { static_cast<BeforeSleep*>(p->data)->Run(); }

void BeforeSleep::Add(std::string name, std::function<void()> step) {
  steps_.push_back(Step{std::move(name), std::move(step)});
}

void BeforeSleep::Run() {
  if (closed_) return;
  ++passes_;
  for (const Step& s : steps_) s.fn();
}

std::vector<std::string> BeforeSleep::names() const {
  std::vector<std::string> out;
  out.reserve(steps_.size());
  for (const Step& s : steps_) out.push_back(s.name);
  return out;
}

void BeforeSleep::Close() {
  if (closed_) return;
  closed_ = true;
  uv_prepare_stop(&prepare_);
  uv_close(reinterpret_cast<uv_handle_t*>(&prepare_), nullptr);
}

}  // namespace tandem::server
