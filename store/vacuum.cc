// vacuum.cc: incremental auto-vacuum, its one-time conversion and its steps (see vacuum.h).
#include "store/vacuum.h"

#include <chrono>
#include <filesystem>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include "store/sqlite_error.h"

#include <sys/statvfs.h>

namespace tandem::store {
namespace {

constexpr int64_t kIncremental = 2;  // PRAGMA auto_vacuum's value for INCREMENTAL

Status Exec(sqlite3* db, const char* sql, const std::string& path) {
  int rc = sqlite3_exec(db, sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return SqliteStatus(db, rc, fmt::format("{}: {}", path, sql));
  return Status::OK();
}

}  // namespace

Result<int64_t> PragmaInt(sqlite3* db, const char* name, const std::string& path) {
  const std::string sql = fmt::format("PRAGMA {}", name);
  sqlite3_stmt* st = nullptr;
  int rc = sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr);
  if (rc == SQLITE_OK) rc = sqlite3_step(st);
  Result<int64_t> out = rc == SQLITE_ROW ? Result<int64_t>(sqlite3_column_int64(st, 0))
                                         : Result<int64_t>(SqliteStatus(db, rc, path + ": " + sql));
  sqlite3_finalize(st);
  return out;
}

void PrepareAutoVacuum(sqlite3* db) {
  sqlite3_exec(db, "PRAGMA auto_vacuum=INCREMENTAL", nullptr, nullptr, nullptr);
}

Status ConvertToIncremental(sqlite3* db, const std::string& path) {
  Result<int64_t> mode = PragmaInt(db, "auto_vacuum", path);
  if (!mode.ok()) return mode.status();
  if (*mode == kIncremental) return Status::OK();
  std::error_code ec;
  const uint64_t size = std::filesystem::file_size(path, ec);
  struct statvfs vfs {};
  const std::string dir = std::filesystem::path(path).parent_path().string();
  if (!ec && ::statvfs(dir.empty() ? "." : dir.c_str(), &vfs) == 0 &&
      static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize < 2 * size + (64u << 20)) {
    spdlog::warn(
        "store: {}: not converted to incremental vacuum: needs {} bytes free; the file "
        "does not shrink until a later start finds the room",
        path, 2 * size);
    return Status::OK();
  }
  spdlog::info("store: {}: converting to incremental vacuum (one VACUUM of {} bytes)", path, size);
  const auto t0 = std::chrono::steady_clock::now();
  if (Status s = Exec(db, "PRAGMA auto_vacuum=INCREMENTAL", path); !s.ok()) return s;
  if (Status s = Exec(db, "VACUUM", path); !s.ok()) return s;
  spdlog::info(
      "store: {}: converted in {} ms", path,
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count());
  return Status::OK();
}

Result<int64_t> IncrementalVacuum(sqlite3* db, const std::string& path) {
  const std::string sql = fmt::format("PRAGMA incremental_vacuum({})", kVacuumStepPages);
  if (Status s = Exec(db, sql.c_str(), path); !s.ok()) return s;
  return PragmaInt(db, "freelist_count", path);
}

}  // namespace tandem::store
