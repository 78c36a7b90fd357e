// close_handles.h: closing several libuv handles and going on once every one of them is closed
// (their close callbacks have all run), which is when their memory may be freed.
//
// Ownership: the handles stay the caller's; their `data` is overwritten, as no handle callback
// runs once uv_close is called on it. The callbacks of requests cancelled by the close (a
// stream's pending writes) still run before it: they must find their owner through the
// request, not through `handle->data`. Thread safety: loop thread only.
#pragma once

#include <uv.h>

#include <functional>
#include <initializer_list>

namespace tandem::server {

// uv_close on each handle (none may be closing already), then `done` on the loop once the last
// close callback ran. `done` may destroy the handles' owner. An empty list calls `done` at once.
void CloseHandles(std::initializer_list<uv_handle_t*> handles, std::function<void()> done);

}  // namespace tandem::server
