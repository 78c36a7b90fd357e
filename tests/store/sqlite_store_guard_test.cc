// Tests for the store's guards (store/sqlite_store_guard.cc, store/identity.h): the identity
// made at creation and kept in meta and the identity file, the creation rule, the refusals of
// another store or an older copy, and the rescue of a store whose file was deleted.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "store/identity.h"
#include "tests/store/store_fixture.h"

namespace tandem::store::testing {
namespace {

namespace fs = std::filesystem;

Result<std::unique_ptr<Store>> OpenWith(TestLoop& loop, StoreOptions o) {
  return Store::Open(o, loop.get());
}

StoreOptions Options(const std::string& path) {
  StoreOptions o;
  o.path = path;
  o.cluster_id = "c";
  o.group = "g";
  return o;
}

}  // namespace

TEST_SUITE("store_guard") {
TEST_CASE_FIXTURE(StoreRig, "store guard: a new store gets an identity, in meta and beside it") {
  auto r = OpenWith(loop, Options(path));
  REQUIRE(r.ok());
  StoreIdentity id = r.value()->identity();
  CHECK(id.store_id.size() == 32);
  CHECK(id.group_key.size() == 64);
  CHECK(id.cluster_id == "c");
  CHECK(id.group == "g");
  REQUIRE(r.value()->Close().ok());
  auto file = ReadIdentityFile(path);
  REQUIRE(file.ok());
  REQUIRE(file->has_value());
  CHECK(**file == id);
  CHECK((fs::status(IdentityPath(path)).permissions() & fs::perms::others_read) ==
        fs::perms::none);
  // The identity stays what it was, and the file is written again when it is gone.
  fs::remove(IdentityPath(path));
  auto again = OpenWith(loop, Options(path));
  REQUIRE(again.ok());
  CHECK(again.value()->identity() == id);
  REQUIRE(again.value()->Close().ok());
  CHECK(ReadIdentityFile(path)->has_value());
}

TEST_CASE_FIXTURE(StoreRig, "store guard: no store is created where creation is not allowed") {
  StoreOptions o = Options(path);
  o.no_create_reason = "the group already serves store x";
  SUBCASE("missing") {}
  SUBCASE("an empty file") { std::ofstream(path).close(); }
  auto r = OpenWith(loop, o);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().IsNotFound());
  CHECK(r.status().message().find("the group already serves store x") != std::string::npos);
  CHECK((!fs::exists(path) || fs::file_size(path) == 0));
}

TEST_CASE_FIXTURE(StoreRig,
                  "store guard: another store, an older copy, another cluster or group") {
  std::string store_id;
  uint64_t epoch = 0;
  {
    auto r = OpenWith(loop, Options(path));
    REQUIRE(r.ok());
    store_id = r.value()->identity().store_id;
    epoch = r.value()->epoch();
    REQUIRE(r.value()->Close().ok());
  }
  StoreOptions o = Options(path);
  SUBCASE("another store id") {
    o.expect_store_id = std::string(32, 'f');
    auto r = OpenWith(loop, o);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().IsInvalidArgument());
    CHECK(r.status().message().find(store_id) != std::string::npos);
  }
  SUBCASE("the group reached a higher epoch") {
    o.expect_store_id = store_id;
    o.min_epoch = epoch + 1;
    auto r = OpenWith(loop, o);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().message().find("older copy") != std::string::npos);
    o.min_epoch = epoch;  // the same epoch is the group's latest store
    auto ok = OpenWith(loop, o);
    REQUIRE(ok.ok());
    REQUIRE(ok.value()->Close().ok());
  }
  SUBCASE("another group") {
    o.group = "h";
    auto r = OpenWith(loop, o);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().message().find("group 'g'") != std::string::npos);
  }
}

TEST_CASE_FIXTURE(StoreRig, "store guard: a deleted store file is rescued and writes stop") {
  for (const char* gone : {"store.db", "store.db-wal", ""}) {
    CAPTURE(gone);
    TempDir sub;
    const std::string p = sub.File("s/store.db");
    std::unique_ptr<SqliteStore> store = OpenOk(loop, p);
    const std::string id = store->identity().store_id;
    WriteBatch b;
    b.CreateChannel(MakeChannel(1, "orders"));
    AppendRange(b, 1, 1, 50);
    REQUIRE(SubmitWait(loop, *store, std::move(b)).status.ok());
    if (*gone) {
      fs::remove(sub.File(std::string("s/") + gone));
    } else {
      fs::remove_all(sub.File("s"));  // the whole directory
    }
    // The store thread notices within about a second, idle as it is.
    bool failed = false;
    for (int i = 0; i < 300 && !failed; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      failed = !store->health().ok();
    }
    REQUIRE(failed);
    CHECK(store->health().message().find("saved to") != std::string::npos);
    WriteBatch more;
    AppendRange(more, 1, 51, 51);
    CHECK_FALSE(SubmitWait(loop, *store, std::move(more)).status.ok());
    store->Close().IgnoreError();
    // The rescue holds every committed message, and the identity file points at it.
    auto marked = ReadIdentityFile(p);
    REQUIRE(marked.ok());
    REQUIRE(marked->has_value());
    const std::string rescued = (*marked)->rescued_to;
    REQUIRE(fs::exists(rescued));
    CHECK(OpenStatus(loop, p).IsNotFound());  // what is at the path is out of date
    fs::remove(p);
    fs::remove(p + "-wal");
    fs::rename(rescued, p);
    Reopened back = Reopen(loop, p);
    CHECK(back.store->identity().store_id == id);
    REQUIRE(back.r->channels.size() == 1);
    CHECK(back.r->channels[0].last_seq == 50);
    CHECK(back.r->channels[0].msgs == 50);
    REQUIRE(back.store->Close().ok());
    CHECK(ReadIdentityFile(p)->value().rescued_to.empty());
  }
}

TEST_CASE("store guard: store traces") {
  TempDir dir;
  const std::string p = dir.File("store.db");
  CHECK(StoreTrace(dir.File("missing/store.db"))->empty());
  CHECK(StoreTrace(p)->empty());
  std::ofstream(dir.File("notes.txt")) << "x";
  std::ofstream(p).close();  // an empty database file is no trace
  CHECK(StoreTrace(p)->empty());
  std::ofstream(dir.File("store.db.rescued-20260101T000000Z")) << "x";
  Result<std::string> trace = StoreTrace(p);
  CHECK(*trace == dir.File("store.db.rescued-20260101T000000Z"));
}

}  // TEST_SUITE

}  // namespace tandem::store::testing
