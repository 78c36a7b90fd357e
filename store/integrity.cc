// integrity.cc: the start-up checks of a store file (see integrity.h). The header layout is
// SQLite's file format: magic at 0, page size at 16 (big-endian, 1 meaning 65536), change
// counter at 24, page count at 28, and at 92 the change counter for which that page count is
// valid.
#include "store/integrity.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <string_view>

#include <fmt/format.h>
#include <sqlite3.h>

#include "store/sqlite_error.h"

#include <sys/stat.h>

namespace tandem::store {
namespace {

uint32_t Be32(const unsigned char* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

}  // namespace

Status ExplainCorruption(const Status& s, const std::string& path) {
  if (!s.IsCorruption()) return s;
  struct stat wal;
  if (::stat((path + "-wal").c_str(), &wal) == 0 && wal.st_size > 0) return s;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return s;
  unsigned char h[100];
  struct stat st;
  const bool read_ok = ::fstat(fd, &st) == 0 && ::pread(fd, h, sizeof(h), 0) == sizeof(h);
  ::close(fd);
  if (!read_ok || std::memcmp(h, "SQLite format 3", 16) != 0) return s;
  const uint32_t raw_page = (uint32_t{h[16]} << 8) | h[17];
  const uint64_t page_size = raw_page == 1 ? 65536 : raw_page;
  const uint32_t pages = Be32(h + 28);
  if (pages == 0 || Be32(h + 92) != Be32(h + 24) || page_size < 512) return s;
  const uint64_t want = page_size * pages;
  const uint64_t have = static_cast<uint64_t>(st.st_size);
  if (have >= want) return s;
  return Status::Corruption(
      path, fmt::format("the file is truncated: its header counts {} pages of {} bytes ({} "
                        "bytes), the file has {} bytes",
                        pages, page_size, want, have));
}

Status QuickCheck(sqlite3* db, const std::string& path) {
  for (const char* table : kRecoveryTables) {
    const std::string sql = fmt::format("PRAGMA quick_check({})", table);
    sqlite3_stmt* st = nullptr;
    int rc = sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr);
    if (rc != SQLITE_OK) return SqliteStatus(db, rc, fmt::format("{}: {}", path, sql));
    std::string problems;  // on one line: a row may hold several, and a header line
    int rows = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
      std::string_view row = text != nullptr ? text : "";
      while (!row.empty()) {
        const size_t nl = row.find('\n');
        std::string_view line = row.substr(0, nl);
        row = nl == std::string_view::npos ? std::string_view() : row.substr(nl + 1);
        if (line.empty() || line == "ok" || line.substr(0, 3) == "***") continue;
        if (++rows <= 3) problems += (problems.empty() ? "" : "; ") + std::string(line);
      }
    }
    Status s =
        rc == SQLITE_DONE ? Status::OK() : SqliteStatus(db, rc, fmt::format("{}: {}", path, sql));
    sqlite3_finalize(st);
    if (!s.ok()) return s;
    if (rows > 0) {
      return Status::Corruption(
          path, fmt::format("table {} is damaged (quick_check: {}{})", table, problems,
                            rows > 3 ? fmt::format("; {} more", rows - 3) : ""));
    }
  }
  return Status::OK();
}

}  // namespace tandem::store
