// sqlite_store_util.h: small helpers that the sqlite_store*.cc files share (binding values,
// naming the store's path in a status, the steady clock in milliseconds). Internal to SqliteStore.
#pragma once

#include <chrono>
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

// One value of a record, bound by its C++ type (a bool as 0 or 1).
inline void BindValue(sqlite3_stmt* st, int i, std::string_view v) { BindText(st, i, v); }
inline void BindValue(sqlite3_stmt* st, int i, int32_t v) { sqlite3_bind_int(st, i, v); }
inline void BindValue(sqlite3_stmt* st, int i, int64_t v) { sqlite3_bind_int64(st, i, v); }
inline void BindValue(sqlite3_stmt* st, int i, uint64_t v) { sqlite3_bind_int64(st, i, I64(v)); }
inline void BindValue(sqlite3_stmt* st, int i, bool v) { sqlite3_bind_int(st, i, v ? 1 : 0); }

// Binds `values` to the parameters 1, 2, ... in order (text without a copy, as BindText).
template <typename... V>
void BindAll(sqlite3_stmt* st, const V&... values) {
  int i = 0;
  (BindValue(st, ++i, values), ...);
}

// The steady clock in milliseconds (the store thread's timers: file checks, space, reclaim).
inline int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// The same status with "<path>: " in front of its message, unless it names the path already.
Status WithPath(const Status& s, const std::string& path);

}  // namespace tandem::store
