// backup.cc: BackupCopy (see backup.h): the partial file, the steps, the check and the seal.
#include "store/backup.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <sqlite3.h>

#include "store/sqlite_error.h"

#include <sys/stat.h>

namespace tandem::store {
namespace {

Status SyncPath(const std::string& path, int flags) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) return Status::IOError(path, std::string("open: ") + std::strerror(errno));
  int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) return Status::IOError(path, std::string("fsync: ") + std::strerror(err));
  return Status::OK();
}

// PRAGMA integrity_check of the file at `path`, opened read-only.
Status CheckCopy(const std::string& path) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr);
  Status s;
  sqlite3_stmt* st = nullptr;
  if (rc == SQLITE_OK) rc = sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, nullptr);
  if (rc != SQLITE_OK) {
    s = SqliteStatus(db, rc, "check " + path);
  } else if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
    s = SqliteStatus(db, rc, "integrity_check of " + path);
  } else {
    const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    std::string first = text != nullptr ? text : "";
    if (first != "ok") s = Status::Corruption(path, "integrity_check: " + first);
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return s;
}

}  // namespace

BackupCopy::BackupCopy(std::string path, std::string partial)
    : path_(std::move(path)), partial_(std::move(partial)) {}

Result<std::unique_ptr<BackupCopy>> BackupCopy::Start(sqlite3* src, const std::string& path) {
  const std::filesystem::path p(path);
  std::error_code ec;
  if (std::filesystem::exists(p, ec)) {
    return Status::InvalidArgument(path, "exists already (a backup never replaces a file)");
  }
  const std::string partial =
      (p.parent_path() / ("." + p.filename().string() + ".partial")).string();
  std::filesystem::remove(partial, ec);  // left by a backup cut short
  std::unique_ptr<BackupCopy> copy(new BackupCopy(path, partial));
  int rc =
      sqlite3_open_v2(partial.c_str(), &copy->dst_,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) return SqliteStatus(copy->dst_, rc, "create " + partial);
  // Nothing depends on the partial file until Seal syncs it: no syncs, no journal file.
  sqlite3_exec(copy->dst_, "PRAGMA synchronous=OFF; PRAGMA journal_mode=MEMORY", nullptr, nullptr,
               nullptr);
  copy->backup_ = sqlite3_backup_init(copy->dst_, "main", src, "main");
  if (copy->backup_ == nullptr) {
    return SqliteStatus(copy->dst_, sqlite3_errcode(copy->dst_), "backup to " + partial);
  }
  return copy;
}

BackupCopy::~BackupCopy() {
  if (backup_ != nullptr) sqlite3_backup_finish(backup_);
  if (dst_ != nullptr) sqlite3_close(dst_);
  if (!sealed_) {
    std::error_code ec;
    std::filesystem::remove(partial_, ec);
  }
}

Result<bool> BackupCopy::Step() {
  const auto t0 = std::chrono::steady_clock::now();
  int rc = sqlite3_backup_step(backup_, kStepPages);
  const int64_t ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  ++steps_;
  if (ns > max_step_ns_) max_step_ns_ = ns;
  if (rc == SQLITE_DONE) return true;
  if (rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED) return false;  // next step
  return SqliteStatus(dst_, rc, "backup to " + partial_);
}

Status BackupCopy::Finish() {
  int rc = sqlite3_backup_finish(backup_);
  backup_ = nullptr;
  Status s;
  if (rc != SQLITE_OK) s = SqliteStatus(dst_, rc, "backup to " + partial_);
  // The copy is a rollback-journal file of its own until someone opens it as a store.
  if (s.ok()) sqlite3_exec(dst_, "PRAGMA journal_mode=DELETE", nullptr, nullptr, nullptr);
  if (int crc = sqlite3_close(dst_); s.ok() && crc != SQLITE_OK) {
    s = Status::IOError(partial_, "close after backup failed");
  }
  dst_ = nullptr;
  return s;
}

Status BackupCopy::Seal(BackupResult* result) {
  if (Status s = CheckCopy(partial_); !s.ok()) return s;
  if (Status s = SyncPath(partial_, O_RDONLY); !s.ok()) return s;
  // link() fails when the final name exists, so a copy never replaces a file that appeared
  // meanwhile; then the partial name goes.
  if (::link(partial_.c_str(), path_.c_str()) != 0) {
    return Status::IOError(path_, std::string("rename into place: ") + std::strerror(errno));
  }
  sealed_ = true;
  ::unlink(partial_.c_str());
  const std::string dir = std::filesystem::path(path_).parent_path().string();
  if (Status s = SyncPath(dir.empty() ? "." : dir, O_RDONLY | O_DIRECTORY); !s.ok()) return s;
  struct stat st {};
  if (::stat(path_.c_str(), &st) != 0) {
    return Status::IOError(path_, std::string("stat: ") + std::strerror(errno));
  }
  result->path = path_;
  result->bytes = static_cast<uint64_t>(st.st_size);
  result->elapsed_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::steady_clock::now() - start_)
                           .count();
  result->steps = steps_;
  result->max_step_us = max_step_ns_ / 1000;
  return Status::OK();
}

}  // namespace tandem::store
