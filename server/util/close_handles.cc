// close_handles.cc: counts the close callbacks of a set of handles (see close_handles.h).
#include "server/util/close_handles.h"

#include <utility>

namespace tandem::server {
namespace {

// Shared by the handles being closed; freed by the last close callback.
struct Closing {
  size_t open;
  std::function<void()> done;
};

void ClosedCb(uv_handle_t* h) noexcept {
  auto* c = static_cast<Closing*>(h->data);
  if (--c->open > 0) return;
  std::function<void()> done = std::move(c->done);
  delete c;
  if (done) done();
}

}  // namespace

void CloseHandles(std::initializer_list<uv_handle_t*> handles, std::function<void()> done) {
  if (handles.size() == 0) {
    if (done) done();
    return;
  }
  auto* c = new Closing{handles.size(), std::move(done)};
  for (uv_handle_t* h : handles) {
    h->data = c;
    uv_close(h, ClosedCb);
  }
}

}  // namespace tandem::server
