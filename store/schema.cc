// schema.cc: the DDL of the store, its version row and the forward migrations.
//
// Schema, version 5. Integers are SQLite's signed 64-bit; sequences and ids stay below 2^63.
//
//   meta(key TEXT PRIMARY KEY, value) WITHOUT ROWID
//     schema_version  INTEGER  version of this schema (kSchemaVersion); a newer one is refused
//     ft_epoch        INTEGER  fencing epoch; +1 in the BEGIN EXCLUSIVE transaction of every
//                              Open(); every write transaction checks it is still its own
//     max_sub_id      INTEGER  highest subscription id ever stored (ids are never reused)
//     max_channel_id  INTEGER  highest channel id ever stored
//     cluster_id, pub_prefix, sub_requests, unsub_requests, close_requests,
//     sub_close_requests, ping_requests, discover   TEXT  the server's identity and subjects
//                              (absent on a fresh store)
//     store_id, group_key TEXT  the store's identity (store/identity.h); made by the first
//                              Open() that finds them absent (a new store, or one of an older
//                              version), never changed after
//     ft_group        TEXT     the fault-tolerance group that serves the store (absent: none)
//     orphan_spans    INTEGER  1 while a deleted channel's messages may be left to reclaim
//
//   channels(id INTEGER PRIMARY KEY, name TEXT UNIQUE, first_seq, last_seq, msgs, bytes,
//            last_timestamp, max_msgs, max_bytes, max_age)
//     The counters describe the stored messages and are updated in the same transaction as
//     the messages, once per channel per transaction, so recovery reads them instead of
//     scanning messages. Invariants: messages of the channel are exactly the seqs in
//     [first_seq, last_seq] that were not removed (removal only ever moves first_seq up);
//     empty <=> msgs = 0 <=> first_seq = last_seq + 1; bytes = sum(length(data)).
//
//   messages(id INTEGER PRIMARY KEY, channel_id, seq, timestamp, data BLOB, crc INTEGER)
//     every channel's messages, in the order they were stored: id (the rowid) only grows, so
//     an append goes to the end of the table whatever its channel. data is the serialized
//     MsgProto; timestamps do not decrease with seq within a channel. crc is the row's
//     checksum (row_checksum.h), verified on every read; NULL in rows written before version
//     3, which are read unverified. channel_id and seq are checked on every read too.
//
//   spans(channel_id, first_seq, first_id, PRIMARY KEY(channel_id, first_seq)) WITHOUT ROWID
//     the index of messages: a span is a stretch of one channel's messages stored under
//     consecutive ids, seq first_seq at id first_id, first_seq + 1 at first_id + 1, and so on
//     up to the seq before the channel's next span (the last span: up to last_seq). Appends
//     extend the channel's last span while nothing else was stored in between, so a busy
//     channel has one span per interruption by another channel, not one row per message.
//     Invariants: a channel's seqs are contiguous (an append is last_seq + 1); its spans
//     cover [first_seq, last_seq], the first one may start below first_seq (the messages
//     there were removed; removing deletes only the spans wholly below the new first_seq,
//     so a channel at its limit rewrites no span); an empty channel has no span.
//     A deleted channel's spans and messages stay until reclaimed in steps (orphans: spans
//     whose channel_id has no channels row; sqlite_store_reclaim.cc). Its first span starts
//     at its first_seq and an end span, holding no row, at last_seq + 1; channel ids are never
//     reused, so no new channel takes them. meta orphan_spans is 1 while any may be left.
//
//     Why this layout: versions 2-4 kept a rowid table per channel (msgs_<channel id>, seq
//     as the rowid). Every CREATE TABLE makes SQLite walk every table of the schema (making n
//     channels cost O(n^2): 3.4 s of CPU for 10,000), each channel held its own prepared
//     statements, opening parsed one table definition per channel (0.54 s for 14,000), and a
//     commit spread over n channels wrote a leaf page per channel (9 KB written per message
//     at 3,000 channels). One table with an index on (channel_id, seq) fixed all of that but
//     paid a second b-tree insert per message: durable publish to one channel fell 15-20%.
//     Spans index stretches instead of rows: one busy channel appends as cheaply as to its
//     own table, while appends spread over channels go to the end of one table.
//     tests/bench/sqlite_ceiling compares the layouts on one disk.
//
//   clients(id TEXT PRIMARY KEY, hb_inbox, conn_id, protocol, ping_interval, ping_max_out)
//     WITHOUT ROWID
//
//   subscriptions(id INTEGER PRIMARY KEY, channel_id, client_id, queue, inbox, ack_inbox,
//                 durable_name, max_in_flight, ack_wait, last_sent, is_durable, is_offline)
//     index subscriptions_by_channel(channel_id), for deleting a channel.
//
//   pending(sub_id, seq, deliveries, PRIMARY KEY(sub_id, seq)) WITHOUT ROWID
//     messages sent to a subscription and not yet acknowledged; deliveries is how many times
//     each was sent (so max_deliveries and redeliveryCount hold across restarts and takeovers).
//     Rows written before version 4 read as delivered once.
//
// Migrations: kMigrations[v] takes a database from version v to v + 1 (kMigrations[0] creates
// version 1 in an empty file). They run in order inside Open()'s exclusive transaction, then
// schema_version is set; a failure rolls all of them back. Never edit a released migration:
// append a new one and bump kSchemaVersion.
//
// Version 1 kept all messages in messages(channel_id, seq, timestamp, data, PRIMARY
// KEY(channel_id, seq)) WITHOUT ROWID; 1 -> 2 moves each channel's rows into its own table
// (with the crc column of version 3: the table a later migration expects); 2 -> 3 adds the crc
// column to every message table that lacks it; 3 -> 4 adds pending.deliveries (default 1);
// 4 -> 5 moves every channel's table into the one messages table (same rows, crc kept), one
// span per channel.
#include "store/schema.h"

#include <cstdint>
#include <iterator>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <sqlite3.h>

#include "store/sqlite_error.h"

namespace tandem::store {
namespace {

Status Exec(sqlite3* db, const std::string& sql, const std::string& what) {
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr);
  return rc == SQLITE_OK ? Status::OK() : SqliteStatus(db, rc, what);
}

// 0 -> 1: the initial schema.
Status CreateVersion1(sqlite3* db, const std::string& what) {
  return Exec(
      db,
      "CREATE TABLE meta(key TEXT PRIMARY KEY, value) WITHOUT ROWID;"
      "INSERT INTO meta(key, value) VALUES('ft_epoch', 0), ('max_sub_id', 0),"
      " ('max_channel_id', 0);"
      "CREATE TABLE channels("
      " id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
      " first_seq INTEGER NOT NULL, last_seq INTEGER NOT NULL,"
      " msgs INTEGER NOT NULL, bytes INTEGER NOT NULL, last_timestamp INTEGER NOT NULL,"
      " max_msgs INTEGER NOT NULL, max_bytes INTEGER NOT NULL, max_age INTEGER NOT NULL);"
      "CREATE TABLE messages("
      " channel_id INTEGER NOT NULL, seq INTEGER NOT NULL, timestamp INTEGER NOT NULL,"
      " data BLOB NOT NULL, PRIMARY KEY(channel_id, seq)) WITHOUT ROWID;"
      "CREATE TABLE clients("
      " id TEXT PRIMARY KEY, hb_inbox TEXT NOT NULL, conn_id TEXT NOT NULL,"
      " protocol INTEGER NOT NULL, ping_interval INTEGER NOT NULL,"
      " ping_max_out INTEGER NOT NULL) WITHOUT ROWID;"
      "CREATE TABLE subscriptions("
      " id INTEGER PRIMARY KEY, channel_id INTEGER NOT NULL, client_id TEXT NOT NULL,"
      " queue TEXT NOT NULL, inbox TEXT NOT NULL, ack_inbox TEXT NOT NULL,"
      " durable_name TEXT NOT NULL, max_in_flight INTEGER NOT NULL, ack_wait INTEGER NOT NULL,"
      " last_sent INTEGER NOT NULL, is_durable INTEGER NOT NULL, is_offline INTEGER NOT NULL);"
      "CREATE INDEX subscriptions_by_channel ON subscriptions(channel_id);"
      "CREATE TABLE pending("
      " sub_id INTEGER NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY(sub_id, seq)) WITHOUT ROWID;",
      what);
}

// Runs a query returning one integer (-1 when it returns no row). Schema introspection lives
// here with the DDL.
Result<int64_t> QueryInt(sqlite3* db, const char* sql, const std::string& what) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr);
  if (rc != SQLITE_OK) return SqliteStatus(db, rc, what);
  rc = sqlite3_step(stmt);
  int64_t v = rc == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : -1;
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
    Status s = SqliteStatus(db, rc, what);
    sqlite3_finalize(stmt);
    return s;
  }
  sqlite3_finalize(stmt);
  return v;
}

// The ids of every channel, ascending.
Result<std::vector<int64_t>> ChannelIds(sqlite3* db, const std::string& what) {
  std::vector<int64_t> ids;
  sqlite3_stmt* st = nullptr;
  int rc = sqlite3_prepare_v2(db, "SELECT id FROM channels ORDER BY id", -1, &st, nullptr);
  if (rc != SQLITE_OK) return SqliteStatus(db, rc, what);
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) ids.push_back(sqlite3_column_int64(st, 0));
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) return SqliteStatus(db, rc, what);
  return ids;
}

// The per-channel message tables of versions 2-4 (msgs_<channel id>, seq as the rowid), which
// the migrations below create, alter and finally empty into the messages table.
std::string ChannelTableName(int64_t channel_id) { return fmt::format("msgs_{}", channel_id); }

// 1 -> 2: one rowid table per channel instead of the shared WITHOUT ROWID messages table.
Status SplitMessagesByChannel(sqlite3* db, const std::string& what) {
  Result<std::vector<int64_t>> ids = ChannelIds(db, what);
  if (!ids.ok()) return ids.status();
  for (int64_t id : *ids) {
    const std::string table = ChannelTableName(id);
    Status s = Exec(db,
                    fmt::format("CREATE TABLE {}(seq INTEGER PRIMARY KEY, timestamp INTEGER NOT "
                                "NULL, data BLOB NOT NULL, crc INTEGER)",
                                table),
                    what);
    if (s.ok()) {
      s = Exec(db,
               fmt::format("INSERT INTO {}(seq, timestamp, data) SELECT seq, timestamp, data "
                           "FROM messages WHERE channel_id={} ORDER BY seq",
                           table, id),
               what);
    }
    if (!s.ok()) return s;
  }
  return Exec(db, "DROP TABLE messages", what);
}

// 2 -> 3: a checksum column in every message table (row_checksum.h). Rows already stored keep
// a NULL crc and are read unverified; a table that 1 -> 2 created in the same open has the
// column already.
Status AddRowChecksums(sqlite3* db, const std::string& what) {
  Result<std::vector<int64_t>> ids = ChannelIds(db, what);
  if (!ids.ok()) return ids.status();
  for (int64_t id : *ids) {
    const std::string table = ChannelTableName(id);
    const std::string has_crc =
        fmt::format("SELECT count(*) FROM pragma_table_info('{}') WHERE name='crc'", table);
    Result<int64_t> n = QueryInt(db, has_crc.c_str(), what);
    if (!n.ok()) return n.status();
    if (*n > 0) continue;
    Status s = Exec(db, fmt::format("ALTER TABLE {} ADD COLUMN crc INTEGER", table), what);
    if (!s.ok()) return s;
  }
  return Status::OK();
}

// 3 -> 4: the delivery count of each pending message. A row already stored was sent at least
// once, and how often more is unknown: it reads as 1.
Status AddPendingDeliveries(sqlite3* db, const std::string& what) {
  return Exec(db, "ALTER TABLE pending ADD COLUMN deliveries INTEGER NOT NULL DEFAULT 1", what);
}

// 4 -> 5: every channel's messages into the one messages table, in seq order under consecutive
// ids (one span per channel), their crc kept; the per-channel tables go. A channel whose seqs
// have a hole cannot be one span: the store is refused, naming the channel, and stays as it was.
Status MergeMessageTables(sqlite3* db, const std::string& what) {
  Status s = Exec(db,
                  "CREATE TABLE messages("
                  " id INTEGER PRIMARY KEY, channel_id INTEGER NOT NULL, seq INTEGER NOT NULL,"
                  " timestamp INTEGER NOT NULL, data BLOB NOT NULL, crc INTEGER);"
                  "CREATE TABLE spans("
                  " channel_id INTEGER NOT NULL, first_seq INTEGER NOT NULL,"
                  " first_id INTEGER NOT NULL, PRIMARY KEY(channel_id, first_seq)) WITHOUT ROWID;",
                  what);
  if (!s.ok()) return s;
  Result<std::vector<int64_t>> ids = ChannelIds(db, what);
  if (!ids.ok()) return ids.status();
  for (int64_t id : *ids) {
    const std::string table = ChannelTableName(id);
    const std::string range =
        fmt::format("SELECT max(seq) - min(seq) + 1 - count(*) FROM {}", table);
    Result<int64_t> holes = QueryInt(db, range.c_str(), what);
    if (!holes.ok()) return holes.status();
    if (*holes > 0) {
      return Status::Corruption(
          what, fmt::format("channel {}: {} seqs missing between its first and last message", id,
                            *holes));
    }
    s = Exec(db,
             fmt::format("INSERT INTO spans(channel_id, first_seq, first_id) "
                         "SELECT {0}, min(seq), coalesce((SELECT max(id) FROM messages), 0) + 1 "
                         "FROM {1} HAVING count(*) > 0;"
                         "INSERT INTO messages(channel_id, seq, timestamp, data, crc) "
                         "SELECT {0}, seq, timestamp, data, crc FROM {1} ORDER BY seq;"
                         "DROP TABLE {1};",
                         id, table),
             what);
    if (!s.ok()) return s;
  }
  return Status::OK();
}

using Migration = Status (*)(sqlite3* db, const std::string& what);
const Migration kMigrations[] = {CreateVersion1, SplitMessagesByChannel, AddRowChecksums,
                                 AddPendingDeliveries, MergeMessageTables};
static_assert(std::size(kMigrations) == kSchemaVersion, "one migration per schema version");

Result<int> FoundVersion(sqlite3* db, const std::string& path) {
  Result<int64_t> has_meta =
      QueryInt(db, "SELECT count(*) FROM sqlite_schema WHERE type='table' AND name='meta'",
               path + ": read schema");
  if (!has_meta.ok()) return has_meta.status();
  if (*has_meta == 0) {
    Result<int64_t> tables = QueryInt(db, "SELECT count(*) FROM sqlite_schema WHERE type='table'",
                                      path + ": read schema");
    if (!tables.ok()) return tables.status();
    if (*tables != 0) {
      return Status::Corruption(path, "not a tandem store: it has tables but no meta table");
    }
    return 0;
  }
  Result<int64_t> version = QueryInt(db, "SELECT value FROM meta WHERE key='schema_version'",
                                     path + ": read schema version");
  if (!version.ok()) return version.status();
  if (*version < 1) return Status::Corruption(path, "the meta table has no schema_version");
  if (*version > kSchemaVersion) {
    return Status::Corruption(
        path, fmt::format("schema version {} is newer than this binary supports ({})", *version,
                          kSchemaVersion));
  }
  return static_cast<int>(*version);
}

}  // namespace

Result<int> MigrateSchema(sqlite3* db, const std::string& path) {
  Result<int> found = FoundVersion(db, path);
  if (!found.ok()) return found.status();
  for (int v = *found; v < kSchemaVersion; ++v) {
    Status s = kMigrations[v](db, fmt::format("{}: migrate schema {} -> {}", path, v, v + 1));
    if (!s.ok()) return s;
  }
  if (*found != kSchemaVersion) {
    std::string sql = fmt::format(
        "INSERT OR REPLACE INTO meta(key, value) VALUES('schema_version', {})", kSchemaVersion);
    int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) return SqliteStatus(db, rc, path + ": write schema version");
  }
  return found;
}

}  // namespace tandem::store
