// disk_space.h: whether the file system of the store has room for the store to write.
//
// SQLite needs free blocks for every commit (the write-ahead log grows before it is
// checkpointed), so a store on a full disk fails at its first write. DiskSpace measures the free
// space of the store directory (statvfs; the nearest existing parent while the directory does
// not exist yet): once, synchronously, at Start, then every kCheckMs on libuv's pool, never on
// the loop. Below kMinFreeBytes there is no room: the process does not take the store lock
// (FtNode defers the attempt, so a standby never takes over onto a full disk only to fail at
// once) and /healthz answers 503 with problem(). Changes are logged once each way.
//
// Ownership: borrows the loop; owns a timer, which Close() closes. A check in flight on the pool
// keeps the loop running until its callback, which does nothing after Close().
// Thread safety: loop thread only; the statvfs of a periodic check runs on a pool thread and
// touches nothing of the object.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <string>

namespace tandem::server {

class DiskSpace {
 public:
  static constexpr uint64_t kMinFreeBytes = 1 << 20;
  static constexpr uint64_t kCheckMs = 2000;

  DiskSpace(uv_loop_t* loop, std::string dir);
  DiskSpace(const DiskSpace&) = delete;
  DiskSpace& operator=(const DiskSpace&) = delete;

  // Checks once now, then every kCheckMs.
  void Start();
  // Stops checking and closes the timer.
  void Close();

  bool has_room() const { return problem_.empty(); }
  // Checks again now (off the loop) instead of at the next period.
  void CheckNow() { StartCheck(); }
  // Why there is no room, one line naming the directory and the free space; "" while there is.
  const std::string& problem() const { return problem_; }
  // Called on the loop each time the space goes from short to enough.
  void SetOnRoom(std::function<void()> on_room) { on_room_ = std::move(on_room); }

  // The free space (for unprivileged use) of the file system holding `dir` or its nearest
  // existing parent; -1 when it cannot be measured.
  static int64_t FreeBytes(const std::string& dir);

 private:
  static void TimerCb(uv_timer_t* t) noexcept;
  void StartCheck();
  void Apply(int64_t free_bytes);

  uv_loop_t* const loop_;
  const std::string dir_;
  uv_timer_t timer_{};
  bool started_ = false;
  bool closed_ = false;
  bool check_in_flight_ = false;
  std::string problem_;
  std::function<void()> on_room_;
};

// 1536 -> "1.5 KiB", for log lines.
std::string FormatBytes(uint64_t bytes);

}  // namespace tandem::server
