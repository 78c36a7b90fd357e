// schema.h: the store's schema version and its forward migrations; the schema itself is
// documented at the top of schema.cc.
//
// SqliteStore::Open calls MigrateSchema() inside its BEGIN EXCLUSIVE transaction, before it
// prepares any statement. Ownership: none. Thread safety: the connection's owner only.
#pragma once

#include <string>

#include "store/status.h"
#include "store/store.h"

typedef struct sqlite3 sqlite3;

namespace tandem::store {

// The version this binary writes. Bump it with every migration added to schema.cc.
inline constexpr int kSchemaVersion = 5;

// Keys of the meta table.
inline constexpr char kMetaSchemaVersion[] = "schema_version";
inline constexpr char kMetaEpoch[] = "ft_epoch";
inline constexpr char kMetaClusterId[] = "cluster_id";
inline constexpr char kMetaPubPrefix[] = "pub_prefix";
inline constexpr char kMetaSubRequests[] = "sub_requests";
inline constexpr char kMetaUnsubRequests[] = "unsub_requests";
inline constexpr char kMetaCloseRequests[] = "close_requests";
inline constexpr char kMetaSubCloseRequests[] = "sub_close_requests";
inline constexpr char kMetaPingRequests[] = "ping_requests";
inline constexpr char kMetaDiscover[] = "discover";
inline constexpr char kMetaMaxSubId[] = "max_sub_id";
inline constexpr char kMetaMaxChannelId[] = "max_channel_id";
inline constexpr char kMetaStoreId[] = "store_id";    // store/identity.h
inline constexpr char kMetaGroupKey[] = "group_key";  // store/identity.h
inline constexpr char kMetaFtGroup[] = "ft_group";    // the group that serves the store
// 1 while spans of deleted channels may be left to reclaim (sqlite_store_reclaim.cc), else 0
// or absent: an open looks for them only when it is 1.
inline constexpr char kMetaOrphanSpans[] = "orphan_spans";

// The meta keys that hold the server record, with the field each one holds (written by
// PutServer, read at open).
struct ServerMetaField {
  const char* key;
  std::string ServerRecord::*field;
};
inline constexpr ServerMetaField kServerMeta[] = {
    {kMetaClusterId, &ServerRecord::cluster_id},
    {kMetaPubPrefix, &ServerRecord::pub_prefix},
    {kMetaSubRequests, &ServerRecord::sub_requests},
    {kMetaUnsubRequests, &ServerRecord::unsub_requests},
    {kMetaCloseRequests, &ServerRecord::close_requests},
    {kMetaSubCloseRequests, &ServerRecord::sub_close_requests},
    {kMetaPingRequests, &ServerRecord::ping_requests},
    {kMetaDiscover, &ServerRecord::discover},
};

// Creates the schema in an empty database or migrates an older one to kSchemaVersion, and
// returns the version found (0 for an empty database). Corruption, naming `path`, when the file
// holds tables but no meta table (not a tandem store) or a schema newer than this binary.
// REQUIRES: inside a write transaction.
Result<int> MigrateSchema(sqlite3* db, const std::string& path);

}  // namespace tandem::store
