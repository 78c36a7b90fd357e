// sqlite_store_guard.cc: SqliteStore's guards of WHICH store it serves (see store.h, Open):
//
//  1. At open (CheckIdentity, inside Open()'s exclusive transaction, before the epoch bump):
//     the store's identity is read from meta and made on first use; a store of another cluster
//     id or group, another store id than the group serves, or an epoch below the group's is
//     refused. Without this, a member that found an empty or foreign file at the store path
//     after a failover would serve it, and every acknowledged message would be gone.
//  2. While open (GuardFiles, on the store thread about twice a second, never on the loop):
//     the path must still lead to the files the connection holds. SQLite keeps writing to an
//     unlinked file without complaint, so deleting or moving the store directory under a
//     running active would otherwise go unnoticed until the next takeover found nothing. On a
//     mismatch the store saves what the open connection holds next to the old path (SQLite's
//     online backup), then fails with a sticky error that names the rescue file.
#include <chrono>
#include <ctime>
#include <filesystem>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include "store/schema.h"
#include "store/sqlite_error.h"
#include "store/sqlite_store.h"
#include "store/sqlite_store_util.h"

#include <sys/stat.h>

namespace tandem::store {
namespace {

// The meta value of `key` as text, "" when absent.
Result<std::string> MetaText(Statements& stmts, const char* key) {
  sqlite3_stmt* st = stmts.get(Stmt::kGetMeta);
  StmtReset reset(st);
  sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_DONE) return std::string();
  if (rc != SQLITE_ROW) return stmts.Error(Stmt::kGetMeta, rc);
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
  return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(st, 0))) : std::string();
}

std::string UtcStamp() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

}  // namespace

Status SqliteStore::CheckIdentity() {
  const std::string& path = options_.path;
  StoreIdentity id;
  Result<std::string> v = MetaText(stmts_, kMetaStoreId);
  if (!v.ok()) return v.status();
  id.store_id = *v;
  if (!(v = MetaText(stmts_, kMetaGroupKey)).ok()) return v.status();
  id.group_key = *v;
  if (!(v = MetaText(stmts_, kMetaFtGroup)).ok()) return v.status();
  id.group = *v;
  if (!(v = MetaText(stmts_, kMetaClusterId)).ok()) return v.status();
  id.cluster_id = *v;
  if (!(v = MetaText(stmts_, kMetaEpoch)).ok()) return v.status();
  const uint64_t stored_epoch = std::strtoull(v->c_str(), nullptr, 10);

  if (!options_.cluster_id.empty()) {
    std::string mismatch = IdentityMismatch(id, options_.cluster_id, options_.group);
    if (!mismatch.empty()) return Status::InvalidArgument(path, mismatch);
  }
  if (!options_.expect_store_id.empty() && id.store_id != options_.expect_store_id) {
    return Status::InvalidArgument(
        path, fmt::format("this file is store {}, but the group serves store {}: it is not the "
                          "group's store (copied or restored from elsewhere?)",
                          id.store_id.empty() ? "without an identity" : id.store_id,
                          options_.expect_store_id));
  }
  if (stored_epoch < options_.min_epoch) {
    return Status::InvalidArgument(
        path, fmt::format("the store's epoch is {}, but the group has reached epoch {}: this "
                          "is an older copy of the group's store, serving it would lose what "
                          "was acknowledged since",
                          stored_epoch, options_.min_epoch));
  }
  // First use: a new store, or one written before stores had an identity.
  if (id.store_id.empty()) {
    id.store_id = RandomHex(16);
    if (Status s = PutMeta(kMetaStoreId, id.store_id); !s.ok()) return s;
  }
  if (id.group_key.empty()) {
    id.group_key = RandomHex(32);
    if (Status s = PutMeta(kMetaGroupKey, id.group_key); !s.ok()) return s;
  }
  if (id.group.empty() && !options_.group.empty()) {
    id.group = options_.group;
    if (Status s = PutMeta(kMetaFtGroup, id.group); !s.ok()) return s;
  }
  // The streaming layer records the cluster id with its subjects; until it has, the
  // configured one stands in the identity file.
  if (id.cluster_id.empty()) id.cluster_id = options_.cluster_id;
  identity_ = std::move(id);
  return Status::OK();
}

Status SqliteStore::RecordFiles() {
  auto id_of = [](const std::string& p, FileId* out) -> Status {
    struct stat st;
    if (::stat(p.c_str(), &st) != 0) return Status::IOError(p, "stat failed after open");
    out->dev = st.st_dev;
    out->ino = st.st_ino;
    return Status::OK();
  };
  if (Status s = id_of(options_.path, &db_file_); !s.ok()) return s;
  // The WAL exists once the epoch bump committed, and keeps its inode while we hold the lock.
  return id_of(options_.path + "-wal", &wal_file_);
}

Status SqliteStore::CheckFiles() const {
  auto same = [](const std::string& p, const FileId& want) -> Status {
    struct stat st;
    if (::stat(p.c_str(), &st) != 0) {
      return Status::IOError(p, fmt::format("is gone ({}): the file was deleted or its directory "
                                            "moved",
                                            std::strerror(errno)));
    }
    if (st.st_dev != want.dev || st.st_ino != want.ino) {
      return Status::IOError(p, "now leads to another file: the store was replaced or moved");
    }
    return Status::OK();
  };
  if (Status s = same(options_.path, db_file_); !s.ok()) return s;
  return same(options_.path + "-wal", wal_file_);
}

Result<std::string> SqliteStore::Rescue() {
  const std::string target = options_.path + ".rescued-" + UtcStamp();
  std::error_code ec;
  std::filesystem::path dir = std::filesystem::path(target).parent_path();
  if (!dir.empty()) std::filesystem::create_directories(dir, ec);
  sqlite3* dst = nullptr;
  int rc =
      sqlite3_open_v2(target.c_str(), &dst,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  Status s;
  if (rc == SQLITE_OK) {
    sqlite3_backup* b = sqlite3_backup_init(dst, "main", db_, "main");
    if (b == nullptr) {
      s = SqliteStatus(dst, sqlite3_errcode(dst), "backup to " + target);
    } else {
      rc = sqlite3_backup_step(b, -1);
      int frc = sqlite3_backup_finish(b);
      if (rc != SQLITE_DONE)
        s = SqliteStatus(dst, rc == SQLITE_OK ? frc : rc, "backup to " + target);
    }
  } else {
    s = SqliteStatus(dst, rc, "create " + target);
  }
  // The copy is a rollback-journal file of its own until someone opens it as a store.
  if (s.ok()) sqlite3_exec(dst, "PRAGMA journal_mode=DELETE", nullptr, nullptr, nullptr);
  if (int crc = sqlite3_close(dst); s.ok() && crc != SQLITE_OK) {
    s = Status::IOError(target, "close after backup failed");
  }
  if (!s.ok()) return s;
  return target;
}

void SqliteStore::GuardFiles() {
  int64_t now = NowMs();
  if (now < next_file_check_ms_ || !health().ok()) return;
  next_file_check_ms_ = now + kFileCheckMs;
  Status lost = CheckFiles();
  if (lost.ok()) return;
  spdlog::critical("store: {}; no further write is acknowledged; saving what this process holds",
                   lost.ToString());
  Result<std::string> saved = Rescue();
  if (saved.ok()) {
    spdlog::critical(
        "store: saved the open store to {}: every acknowledged message is there; "
        "stop the group, move that file to {} and start again",
        *saved, options_.path);
    // Marks the store as out of date for every member until the copy is put back.
    StoreIdentity marked = identity_;
    marked.rescued_to = *saved;
    if (Status s = WriteIdentityFile(options_.path, marked); !s.ok()) {
      spdlog::error("store: cannot mark {} as rescued: {}", IdentityPath(options_.path),
                    s.ToString());
    }
    SetSticky(Status::IOError(lost.message(), "its contents were saved to " + *saved));
  } else {
    spdlog::critical("store: could not save the open store: {}", saved.status().ToString());
    SetSticky(Status::IOError(lost.message(), "saving it failed: " + saved.status().message()));
  }
}

}  // namespace tandem::store
