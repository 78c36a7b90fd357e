// backup.h: BackupCopy, one online copy of the open store into a file with SQLite's backup API
// (sqlite3_backup_step), taken in steps of kStepPages pages on the store thread between its
// rounds, so that a publish waits for at most one step. Writes the store makes through its own
// connection during the copy are carried into it by SQLite, so the finished copy holds every
// transaction committed before its last step (everything acknowledged before the backup began
// and more).
//
// The copy is written to "<dir>/.<name>.partial" (without syncs: nothing depends on it until it
// is sealed), then Seal() runs PRAGMA integrity_check on it, fsyncs it, links it to its final
// name (link(2): atomic, and never replacing a file), removes the partial name and fsyncs the
// directory: the final name only ever holds a checked, complete copy. The
// copy is a rollback-journal SQLite file that opens as a store (restore = start a member on it).
//
// Ownership: owns the destination connection. Thread safety: Start, Step and Finish on the
// store thread (they use the store's connection); Seal and the destructor on any one thread
// after Finish.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "store/status.h"
#include "store/store.h"

typedef struct sqlite3 sqlite3;
typedef struct sqlite3_backup sqlite3_backup;

namespace tandem::store {

class BackupCopy {
 public:
  // Pages copied per step: 64 pages of 4 KiB, 256 KiB. Measured with `scripts/bench backup`:
  // 256 pages gave steps up to 20 ms on a loaded 2-core machine, 64 pages up to 8 ms.
  static constexpr int kStepPages = 64;

  // Starts a copy of `src` that will be sealed as `path` (an absolute file path whose
  // directory exists). InvalidArgument when `path` exists already (a backup never replaces a
  // file), IOError when the partial file cannot be made.
  static Result<std::unique_ptr<BackupCopy>> Start(sqlite3* src, const std::string& path);
  ~BackupCopy();
  BackupCopy(const BackupCopy&) = delete;
  BackupCopy& operator=(const BackupCopy&) = delete;

  // Copies the next kStepPages pages; true once every page is copied. REQUIRES: no
  // transaction open on the source connection.
  Result<bool> Step();
  // Ends the backup (the source is no longer touched) and closes the destination.
  Status Finish();
  // Checks, syncs and renames the finished copy into place; fills `result`.
  Status Seal(BackupResult* result);

  const std::string& path() const { return path_; }

 private:
  BackupCopy(std::string path, std::string partial);

  const std::string path_, partial_;
  sqlite3* dst_ = nullptr;
  sqlite3_backup* backup_ = nullptr;
  bool sealed_ = false;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  uint64_t steps_ = 0;
  int64_t max_step_ns_ = 0;
};

}  // namespace tandem::store
