// store_broken_test.cc: a store that cannot be used stops the real binary with exit status 1,
// one error line naming the file, the cause and what to do, no repeated lines, and never a
// /healthz 200 while it lasts. Each case breaks a store the way a disk, an operator or another
// program can (garbage, truncation, a foreign or newer file, a damaged index of a table
// recovery reads, a directory where the file should be, an immutable file, a read-only mount).
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>

#include <doctest/doctest.h>
#include <sqlite3.h>

#include "tests/integration/store/store_files.h"

#include <sys/mount.h>
#include <sys/stat.h>

namespace tandem::test {
namespace {

const GoodStore& Good() {
  static const GoodStore* store = new GoodStore(2000);
  return *store;
}

std::string Garbage(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

void Sql(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  char* err = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  INFO(sql << ": " << (err ? err : ""));
  sqlite3_free(err);
  CHECK(rc == SQLITE_OK);
  REQUIRE(sqlite3_close(db) == SQLITE_OK);
}

int64_t RootPage(const std::string& path, const std::string& name) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  std::string q = "SELECT rootpage FROM sqlite_schema WHERE name='" + name + "'";
  REQUIRE(sqlite3_prepare_v2(db, q.c_str(), -1, &st, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(st) == SQLITE_ROW);
  int64_t page = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(db);
  return page;
}

struct Outcome {
  std::optional<int> exit;
  std::string log;
  int healthy_answers = 0;  // /healthz 200s seen while it ran
};

// Runs `tandem serve --store data` in `dir` until it exits (at most 10 s), polling /healthz.
Outcome Serve(const std::string& dir) {
  TandemProcess proc(dir, "tandem.log");
  int http = FreePort();
  REQUIRE(
      proc.Start({"serve", "--listen", "127.0.0.1:" + std::to_string(FreePort()), "--http",
                  "127.0.0.1:" + std::to_string(http), "--store", "data", "--log-level", "info"}));
  Outcome out;
  auto end = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!out.exit && std::chrono::steady_clock::now() < end) {
    std::optional<server::HttpReply> r = TryGet(http, "/healthz");
    if (r && r->status == 200) ++out.healthy_answers;
    out.exit = proc.WaitExit(std::chrono::milliseconds(50));
  }
  out.log = proc.Log();
  return out;
}

// The store in `dir` is refused: exit 1, one error line naming the file and `cause`, no
// healthy answer, no repeated line.
void ExpectRefused(const std::string& dir, const std::string& cause) {
  Outcome o = Serve(dir);
  INFO("log:\n" << o.log);
  REQUIRE_MESSAGE(o.exit.has_value(), "still running after 10 s");
  CHECK(*o.exit == 1);
  CHECK(o.healthy_answers == 0);
  std::vector<std::string> errors = ErrorLines(o.log);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].find("store.db") != std::string::npos);
  CHECK(errors[0].find("cannot be used") != std::string::npos);
  CHECK(errors[0].find(cause) != std::string::npos);
  CHECK(errors[0].find("exiting with status 1") != std::string::npos);
  CHECK(MaxRepeat(o.log) <= 2);
}

}  // namespace

TEST_SUITE("store_broken") {
  TEST_CASE("store_broken: garbage instead of a store") {
    TempDir d;
    Good().CopyTo(d.path(), Garbage(64 * 1024, 1));
    ExpectRefused(d.path(), "not a database");
  }

  TEST_CASE("store_broken: garbage after a valid header") {
    TempDir d;
    const std::string& good = Good().bytes();
    Good().CopyTo(d.path(), good.substr(0, 100) + Garbage(good.size() - 100, 2));
    ExpectRefused(d.path(), "backup");
  }

  TEST_CASE("store_broken: a store truncated at 10%, 50% and 90%") {
    for (int pct : {10, 50, 90}) {
      CAPTURE(pct);
      TempDir d;
      const std::string& good = Good().bytes();
      Good().CopyTo(d.path(), good.substr(0, good.size() * pct / 100));
      ExpectRefused(d.path(), "truncated");
    }
  }

  TEST_CASE("store_broken: a SQLite file of another program") {
    TempDir d;
    ::mkdir(d.Join("data").c_str(), 0755);
    Sql(d.Join("data/store.db"),
        "CREATE TABLE orders(id INTEGER PRIMARY KEY, item TEXT);"
        "INSERT INTO orders(item) VALUES('book');");
    ExpectRefused(d.path(), "not a tandem store");
  }

  TEST_CASE("store_broken: a store of a newer schema (version 99)") {
    TempDir d;
    Good().CopyTo(d.path(), Good().bytes());
    Sql(d.Join("data/store.db"), "UPDATE meta SET value=99 WHERE key='schema_version'");
    ExpectRefused(d.path(), "schema version 99");
  }

  TEST_CASE("store_broken: a meta table without a schema version") {
    TempDir d;
    Good().CopyTo(d.path(), Good().bytes());
    Sql(d.Join("data/store.db"), "DELETE FROM meta WHERE key='schema_version'");
    ExpectRefused(d.path(), "schema_version");
  }

  TEST_CASE("store_broken: a damaged index of a table that recovery reads") {
    // Recovery scans the subscriptions table without its index, so only the start-up check
    // sees this page.
    TempDir d;
    std::string bytes = Good().bytes();
    const std::string tmp = d.WriteFile("probe.db", bytes);
    int64_t page = RootPage(tmp, "subscriptions_by_channel");
    size_t page_size =
        256u * static_cast<unsigned char>(bytes[16]) + static_cast<unsigned char>(bytes[17]);
    REQUIRE(page > 1);
    size_t at = static_cast<size_t>(page - 1) * page_size;
    REQUIRE(at + 8 < bytes.size());
    for (size_t i = 0; i < 8; ++i) bytes[at + i] = static_cast<char>(bytes[at + i] ^ 0x5a);
    Good().CopyTo(d.path(), bytes);
    ExpectRefused(d.path(), "backup");
  }

  TEST_CASE("store_broken: store.db is a directory") {
    TempDir d;
    REQUIRE(::mkdir(d.Join("data").c_str(), 0755) == 0);
    REQUIRE(::mkdir(d.Join("data/store.db").c_str(), 0755) == 0);
    ExpectRefused(d.path(), "store.db");
  }

  TEST_CASE("store_broken: the store directory is a regular file") {
    TempDir d;
    d.WriteFile("data", "not a directory\n");
    ExpectRefused(d.path(), "create directory");
  }

  TEST_CASE("store_broken: an immutable store file (chattr +i)") {
    TempDir d;
    Good().CopyTo(d.path(), Good().bytes());
    const std::string file = d.Join("data/store.db");
    if (std::system(("chattr +i " + file + " 2>/dev/null").c_str()) != 0) {
      MESSAGE("chattr +i is not supported here; this one case is not run");
      return;
    }
    struct Unlock {
      std::string f;
      ~Unlock() { (void)std::system(("chattr -i " + f).c_str()); }
    } unlock{file};
    ExpectRefused(d.path(), "store.db");
  }

  TEST_CASE("store_broken: a store on a read-only mount") {
    TempDir d;
    Good().CopyTo(d.path(), Good().bytes());
    const std::string src = d.Join("data"), ro = d.Join("ro");
    REQUIRE(::mkdir(ro.c_str(), 0755) == 0);
    REQUIRE(::mkdir(d.Join("ro-run").c_str(), 0755) == 0);
    if (::mount(src.c_str(), ro.c_str(), nullptr, MS_BIND, nullptr) != 0) {
      MESSAGE("bind mounts are not permitted here (needs root); this one case is not run");
      return;
    }
    struct Unmount {
      std::string p;
      ~Unmount() { ::umount2(p.c_str(), MNT_DETACH); }
    } unmount{ro};
    REQUIRE(::mount(nullptr, ro.c_str(), nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY, nullptr) == 0);
    // The server runs in ro-run with its store directory "data" being the read-only mount.
    REQUIRE(::symlink(ro.c_str(), d.Join("ro-run/data").c_str()) == 0);
    ExpectRefused(d.Join("ro-run"), "store.db");
  }
}

}  // namespace tandem::test
