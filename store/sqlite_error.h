// sqlite_error.h: the one place where SQLite result codes become tandem Status values.
//
// Every SQLite call in store/ that fails goes through SqliteStatus(), so the mapping below is the
// whole policy: SQLITE_BUSY -> Busy, SQLITE_CORRUPT/SQLITE_NOTADB -> Corruption, SQLITE_FULL ->
// IOError "disk full", anything else -> IOError with sqlite3_errmsg().
//
// Ownership: none. Thread safety: call it on the thread that owns `db`, right after the failing
// call, because sqlite3_errmsg() describes the connection's most recent error.
#pragma once

#include <string_view>

#include "store/status.h"

typedef struct sqlite3 sqlite3;

namespace tandem::store {

// `what` names the operation or statement that failed ("open store.db", "statement
// kInsertMsg"); the result reads "<what>: <sqlite message>". `db` may be null (open failed
// before a handle existed), in which case sqlite3_errstr(rc) is used.
Status SqliteStatus(sqlite3* db, int rc, std::string_view what);

}  // namespace tandem::store
