// ft_store_guard_test.cc: a pair never loses acknowledged messages to a store file that goes
// away, and never serves a store that is not the group's. Real processes on one store:
//
//  - the store directory deleted or moved, or store.db or its WAL deleted, under load: the
//    active notices, saves what it holds beside the old path, and exits 3; the standby refuses
//    to start an empty store; the saved file, put back, serves every acknowledged message;
//  - after a kill -9, a deleted store (or directory) or an older copy of it is refused by the
//    standby instead of served;
//  - a member configured with another cluster id or group than the store is refused at start.
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include <doctest/doctest.h>

#include "tests/support/ft_harness.h"
#include "tests/support/tandem_process.h"
#include "tests/support/temp_dir.h"

namespace tandem::test {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

constexpr const char* kRefusedLine = "cannot serve this store";

enum class Fault { kRemoveDir, kMoveDir, kRemoveDb, kRemoveWal };

void Inflict(Fault f, const std::string& store_dir) {
  switch (f) {
    case Fault::kRemoveDir:
      fs::remove_all(store_dir);
      break;
    case Fault::kMoveDir:
      fs::rename(store_dir, store_dir + ".moved");
      break;
    case Fault::kRemoveDb:
      fs::remove(store_dir + "/store.db");
      break;
    case Fault::kRemoveWal:
      fs::remove(store_dir + "/store.db-wal");
      break;
  }
}

// The rescued copy the active left in `store_dir`, or "".
std::string RescueFile(const std::string& store_dir) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(store_dir, ec)) {
    if (e.path().filename().string().rfind("store.db.rescued-", 0) == 0) return e.path().string();
  }
  return {};
}

void LoseStoreUnderLoad(Fault fault) {
  FtPair pair;
  REQUIRE(pair.StartActiveThenStandby());
  const std::string store_dir = pair.dir.Join("store");
  StanLoad load("nats://127.0.0.1:" + std::to_string(pair.port), "ft-test", "orders", 400);
  std::string error;
  REQUIRE_MESSAGE(load.Start(&error), error);
  REQUIRE(AcksGrow(load, 200, milliseconds(10000)));

  Inflict(fault, store_dir);
  // The active notices within about a second, saves what it holds and fences.
  auto rc = pair.a.process().WaitExit(milliseconds(5000));
  REQUIRE_MESSAGE(rc.has_value(), "the active kept serving a store that is gone");
  CHECK(*rc == 3);
  CHECK(pair.a.process().WaitForLog("saved the open store to", milliseconds(100)));
  load.StopPublishing();
  const std::string rescued = RescueFile(store_dir);
  REQUIRE_MESSAGE(!rescued.empty(), pair.a.process().Log());

  // The standby takes the lock and refuses what is left: nothing, or an out-of-date file.
  auto brc = pair.b.process().WaitExit(milliseconds(10000));
  REQUIRE_MESSAGE(brc.has_value(), "the standby kept running: ", pair.b.process().Log());
  CHECK(*brc == 1);
  CHECK(pair.b.process().Log().find(kRefusedLine) != std::string::npos);
  CHECK_FALSE(pair.b.IsActive());

  // The operator puts the saved file back, as the log says; every acknowledged message is there.
  for (const char* leftover : {"store.db", "store.db-wal"}) fs::remove(store_dir + "/" + leftover);
  fs::rename(rescued, store_dir + "/store.db");
  REQUIRE(pair.a.Start());
  REQUIRE_MESSAGE(pair.a.WaitActive(), pair.a.process().Log());
  LoadReport r = load.Settle(milliseconds(40000));
  INFO("published ", r.published, ", acked ", r.acked, ", unacked ", r.unacked,
       ", lost: ", r.first_lost);
  CHECK(r.acked >= 200);
  CHECK(r.lost == 0);
}

}  // namespace

TEST_SUITE("ft_store_guard") {
TEST_CASE("store guard: the store directory deleted under load") {
  LoseStoreUnderLoad(Fault::kRemoveDir);
}

TEST_CASE("store guard: the store directory moved under load") {
  LoseStoreUnderLoad(Fault::kMoveDir);
}

TEST_CASE("store guard: store.db deleted under load") { LoseStoreUnderLoad(Fault::kRemoveDb); }

TEST_CASE("store guard: the WAL deleted under load") { LoseStoreUnderLoad(Fault::kRemoveWal); }

TEST_CASE(
    "store guard: after kill -9, a standby refuses a deleted store instead of creating one") {
  for (Fault fault : {Fault::kRemoveDb, Fault::kRemoveDir}) {
    CAPTURE(static_cast<int>(fault));
    FtPair pair;
    REQUIRE(pair.StartActiveThenStandby());
    // The standby is held still while the active dies and the store goes, so that it cannot
    // take the store over before it is gone.
    REQUIRE(pair.b.process().Signal(SIGSTOP));
    REQUIRE(pair.a.process().Signal(SIGKILL));
    REQUIRE(pair.a.process().WaitExit().has_value());
    const std::string store_dir = pair.dir.Join("store");
    if (fault == Fault::kRemoveDb) {
      fs::remove(store_dir + "/store.db");
      fs::remove(store_dir + "/store.db-wal");
    } else {
      fs::remove_all(store_dir);
    }
    REQUIRE(pair.b.process().Signal(SIGCONT));
    auto rc = pair.b.process().WaitExit(milliseconds(10000));
    REQUIRE_MESSAGE(rc.has_value(), "the standby did not stop: ", pair.b.process().Log());
    CHECK(*rc == 1);
    CHECK(pair.b.process().Log().find(kRefusedLine) != std::string::npos);
    CHECK_FALSE(pair.b.IsActive());
    CHECK_FALSE(fs::exists(store_dir + "/store.db"));
  }
}

TEST_CASE("store guard: a standby refuses an older copy of the group's store") {
  FtPair pair;
  const std::string store_dir = pair.dir.Join("store");
  // Epoch 1, stopped cleanly: a copy of the file as it was then.
  REQUIRE(pair.a.Start());
  REQUIRE(pair.a.WaitActive());
  REQUIRE(pair.a.process().Signal(SIGTERM));
  REQUIRE(pair.a.process().WaitExit() == 0);
  fs::copy_file(store_dir + "/store.db", pair.dir.Join("old.db"));
  // Epoch 2 with a standby that hears it; then the active dies and the old copy is put back.
  REQUIRE(pair.StartActiveThenStandby());
  StanLoad load("nats://127.0.0.1:" + std::to_string(pair.port), "ft-test", "orders", 400);
  std::string error;
  REQUIRE_MESSAGE(load.Start(&error), error);
  REQUIRE(AcksGrow(load, 50, milliseconds(10000)));
  load.StopPublishing();
  REQUIRE(pair.b.process().WaitForLog("(epoch 2)"));
  REQUIRE(pair.b.process().Signal(SIGSTOP));
  REQUIRE(pair.a.process().Signal(SIGKILL));
  REQUIRE(pair.a.process().WaitExit().has_value());
  fs::remove(store_dir + "/store.db-wal");
  fs::copy_file(pair.dir.Join("old.db"), store_dir + "/store.db",
                fs::copy_options::overwrite_existing);
  REQUIRE(pair.b.process().Signal(SIGCONT));
  auto rc = pair.b.process().WaitExit(milliseconds(10000));
  REQUIRE_MESSAGE(rc.has_value(), "the standby did not stop: ", pair.b.process().Log());
  CHECK(*rc == 1);
  CHECK(pair.b.process().Log().find("older copy") != std::string::npos);
  CHECK_FALSE(pair.b.IsActive());
}

TEST_CASE("store guard: a member with another cluster id or group is refused at start") {
  FtPair pair;
  REQUIRE(pair.a.Start());
  REQUIRE(pair.a.WaitActive());
  struct Case {
    std::string cluster, group, expect;
  };
  for (const Case& c :
       {Case{"other-cluster", "g", "cluster id"}, Case{"ft-test", "h", "group"}}) {
    CAPTURE(c.cluster);
    CAPTURE(c.group);
    FtMemberOptions o = MemberOptions(pair.dir, "c-" + c.group, pair.port);
    o.cluster_id = c.cluster;
    o.group = c.group;
    FtMember member(pair.dir.path(), o);
    REQUIRE(member.Start());
    auto rc = member.process().WaitExit(milliseconds(5000));
    REQUIRE_MESSAGE(rc.has_value(), "it stood by silently: ", member.process().Log());
    CHECK(*rc == 1);
    CHECK(member.process().Log().find(c.expect) != std::string::npos);
    CHECK(member.process().Log().find("store.identity") != std::string::npos);
  }
  CHECK(pair.a.process().Running());
}

}  // TEST_SUITE

}  // namespace tandem::test
