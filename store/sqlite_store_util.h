// sqlite_store_util.h: small helpers that the sqlite_store*.cc files share (binding values,
// naming the store's path in a status). Internal to SqliteStore.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <sqlite3.h>

#include "store/status.h"

namespace tandem::store {

// Binds `s` without a copy: it must outlive the statement's next step.
inline void BindText(sqlite3_stmt* st, int i, std::string_view s) {
  sqlite3_bind_text(st, i, s.data(), static_cast<int>(s.size()), SQLITE_STATIC);
}

// SQLite stores integers signed; sequence numbers and ids never reach 2^63.
inline int64_t I64(uint64_t v) { return static_cast<int64_t>(v); }

// The same status with "<path>: " in front of its message, unless it names the path already.
Status WithPath(const Status& s, const std::string& path);

}  // namespace tandem::store
