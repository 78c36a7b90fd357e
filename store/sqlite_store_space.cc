// sqlite_store_space.cc: SqliteStore's idle work: measuring the file (Store::space), reclaiming
// deleted channels' messages (sqlite_store_reclaim.cc) and then giving free pages back with the
// incremental vacuum in small steps (store/vacuum.h). Runs on the store thread only when no job
// waited for kFileCheckMs (a reclaim step: kIdleStepPauseMs), one step at a time with a pause
// of kIdleStepPauseMs between steps, so a job that arrives waits for at most one step.
#include <chrono>

#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include "store/sqlite_store.h"
#include "store/sqlite_store_util.h"
#include "store/vacuum.h"

#include <sys/stat.h>

namespace tandem::store {
namespace {

uint64_t FileBytes(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

}  // namespace

StoreSpace SqliteStore::space() const {
  std::lock_guard<std::mutex> lock(space_mu_);
  return space_;
}

void SqliteStore::MeasureSpaceWhenDue() {
  const int64_t now = NowMs();
  if (now < next_space_ms_) return;
  next_space_ms_ = now + kSpaceMeasureMs;
  MeasureSpace();
}

void SqliteStore::MeasureSpace() {
  StoreSpace m;
  m.file_bytes = FileBytes(options_.path);
  m.wal_bytes = FileBytes(options_.path + "-wal");
  Result<int64_t> page = PragmaInt(db_, "page_size", options_.path);
  Result<int64_t> pages = PragmaInt(db_, "page_count", options_.path);
  Result<int64_t> free = PragmaInt(db_, "freelist_count", options_.path);
  if (!page.ok() || !pages.ok() || !free.ok()) return;  // keeps the last measure
  m.page_bytes = static_cast<uint64_t>(*page);
  m.pages = static_cast<uint64_t>(*pages);
  m.free_pages = static_cast<uint64_t>(*free);
  std::lock_guard<std::mutex> lock(space_mu_);
  space_ = m;
}

bool SqliteStore::IdleWork(bool reclaim) {
  if (!health().ok()) return false;
  if (reclaim) {  // a deleted channel's messages first: the vacuum gives their pages back after
    ReclaimOnce();
    MeasureSpaceWhenDue();
    return true;
  }
  if (!vacuuming_) {
    Result<int64_t> free = PragmaInt(db_, "freelist_count", options_.path);
    vacuuming_ = free.ok() && *free >= kVacuumMinFreePages;
  }
  bool more = false;
  if (vacuuming_) {  // once started, every free page goes
    Result<int64_t> left = IncrementalVacuum(db_, options_.path);
    more = left.ok() && *left > 0;
    if (!left.ok()) spdlog::warn("store: incremental vacuum: {}", left.status().ToString());
    if (!more) {
      vacuuming_ = false;
      // The log holds the shorter file: copying it back truncates the database file, and the
      // log itself is cut to nothing (no reader can hold it: the lock is exclusive).
      sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr);
    }
  }
  MeasureSpace();
  return more;
}

}  // namespace tandem::store
