// disk_space.cc: DiskSpace (see disk_space.h).
#include "server/util/disk_space.h"

#include <filesystem>
#include <memory>
#include <utility>

#include <spdlog/spdlog.h>

#include "server/util/pool_job.h"

#include <sys/statvfs.h>

namespace tandem::server {

std::string FormatBytes(uint64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  size_t u = 0;
  while (v >= 1024 && u + 1 < std::size(kUnits)) {
    v /= 1024;
    ++u;
  }
  return u == 0 ? fmt::format("{} B", bytes) : fmt::format("{:.1f} {}", v, kUnits[u]);
}

DiskSpace::DiskSpace(uv_loop_t* loop, std::string dir) : loop_(loop), dir_(std::move(dir)) {}

int64_t DiskSpace::FreeBytes(const std::string& dir) {
  std::filesystem::path p = std::filesystem::absolute(dir);
  for (;;) {
    struct statvfs st;
    if (statvfs(p.c_str(), &st) == 0) {
      return static_cast<int64_t>(st.f_bavail) * static_cast<int64_t>(st.f_frsize);
    }
    if (errno != ENOENT || !p.has_parent_path() || p.parent_path() == p) return -1;
    p = p.parent_path();
  }
}

void DiskSpace::Start() {
  if (started_) return;
  started_ = true;
  Apply(FreeBytes(dir_));
  uv_timer_init(loop_, &timer_);
  timer_.data = this;
  uv_timer_start(&timer_, TimerCb, kCheckMs, kCheckMs);
  uv_unref(reinterpret_cast<uv_handle_t*>(&timer_));  // checking alone keeps no loop alive
}

void DiskSpace::Close() {
  if (!started_ || closed_) return;
  closed_ = true;
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), nullptr);
}

void DiskSpace::TimerCb(uv_timer_t* t) noexcept { static_cast<DiskSpace*>(t->data)->StartCheck(); }

void DiskSpace::StartCheck() {
  if (check_in_flight_ || closed_) return;
  auto free_bytes = std::make_shared<int64_t>(-1);
  int rc = QueuePoolJob(
      loop_, [free_bytes, dir = dir_] { *free_bytes = FreeBytes(dir); },
      [this, free_bytes](int status) {
        check_in_flight_ = false;
        if (status == 0 && !closed_) Apply(*free_bytes);
      });
  if (rc != 0) return;
  check_in_flight_ = true;
}

void DiskSpace::Apply(int64_t free_bytes) {
  if (free_bytes < 0) return;  // cannot tell: keep the last answer
  bool room = static_cast<uint64_t>(free_bytes) >= kMinFreeBytes;
  if (!room) {
    bool was_room = problem_.empty();
    problem_ = fmt::format("only {} free on {} (a store needs at least {})",
                           FormatBytes(static_cast<uint64_t>(free_bytes)), dir_,
                           FormatBytes(kMinFreeBytes));
    if (was_room) spdlog::error("store: {}", problem_);
    return;
  }
  if (problem_.empty()) return;
  problem_.clear();
  spdlog::info("store: {} free on {} again", FormatBytes(static_cast<uint64_t>(free_bytes)), dir_);
  if (on_room_) on_room_();
}

}  // namespace tandem::server
