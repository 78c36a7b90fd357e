// Tests for ft/store_locker: a lock attempt runs Store::Open off the loop and reports on the loop;
// a second attempt on a held store is Busy; a locker destroyed while its attempt is in flight
// closes the store it won, so the lock is free again; the attempt itself applies the creation
// rule (ft/creation_rule.h, tested alone in creation_rule_test.cc). Real SQLite files, a real
// uv loop.
#include "ft/store_locker.h"

#include <uv.h>

#include <filesystem>
#include <memory>
#include <optional>

#include <doctest/doctest.h>

#include "tests/store/store_fixture.h"

namespace tandem::ft {

using store::testing::TempDir;
using store::testing::TestLoop;
using LockResult = Result<std::unique_ptr<store::Store>>;

namespace {

// The callback of an attempt that must reach Open: keeps its result in `out`.
StoreLocker::Done Into(std::optional<LockResult>& out) {
  return [&out](StoreLocker::Answer a) {
    REQUIRE(a.has_value());
    out.emplace(std::move(*a));
  };
}

}  // namespace

TEST_SUITE("store_locker") {
TEST_CASE("store_locker: win, then Busy for a second locker, then free after Close") {
  TempDir dir;
  TestLoop loop;
  store::StoreOptions o;
  o.path = dir.File("store.db");
  StoreLocker first(loop.get());
  StoreLocker second(loop.get());

  std::optional<LockResult> r1;
  first.TryLock({o}, Into(r1));
  CHECK(first.in_flight());
  REQUIRE(loop.RunUntil([&] { return r1.has_value(); }));
  CHECK_FALSE(first.in_flight());
  REQUIRE(r1->ok());
  uint64_t epoch = r1->value()->epoch();
  CHECK(epoch >= 1);

  std::optional<LockResult> r2;
  second.TryLock({o}, Into(r2));
  REQUIRE(loop.RunUntil([&] { return r2.has_value(); }));
  REQUIRE_FALSE(r2->ok());
  CHECK(r2->status().IsBusy());

  CHECK(r1->value()->Close().ok());
  r1.reset();
  r2.reset();
  second.TryLock({o}, Into(r2));
  REQUIRE(loop.RunUntil([&] { return r2.has_value(); }));
  REQUIRE(r2->ok());
  CHECK(r2->value()->epoch() == epoch + 1);  // every lock won bumps the epoch
  CHECK(r2->value()->Close().ok());
}

TEST_CASE("store_locker: a locker gone before its result closes the store it won") {
  TempDir dir;
  TestLoop loop;
  store::StoreOptions o;
  o.path = dir.File("store.db");
  bool called = false;
  {
    StoreLocker doomed(loop.get());
    doomed.TryLock({o}, [&](StoreLocker::Answer) { called = true; });
  }
  // The orphaned attempt finishes on its own (the loop has nothing else to wait for) and frees
  // the lock it won.
  uv_run(loop.get(), UV_RUN_DEFAULT);
  StoreLocker next(loop.get());
  std::optional<LockResult> r;
  next.TryLock({o}, Into(r));
  REQUIRE(loop.RunUntil([&] { return r.has_value(); }));
  bool got = r->ok();
  CHECK_FALSE(called);
  REQUIRE(got);
  CHECK(r->value()->epoch() == 2);
  CHECK(r->value()->Close().ok());
}

TEST_CASE("store_locker: a first start waits for the group before creating, off the loop") {
  TempDir dir;
  TestLoop loop;
  StoreLocker locker(loop.get());
  LockAttempt a;
  a.options.path = dir.File("store.db");
  a.wait_for_group = true;
  bool answered = false;
  StoreLocker::Answer answer;
  locker.TryLock(a, [&](StoreLocker::Answer r) {
    answered = true;
    answer = std::move(r);
  });
  REQUIRE(loop.RunUntil([&] { return answered; }));
  CHECK_FALSE(answer.has_value());  // stopped before Open
  CHECK_FALSE(std::filesystem::exists(a.options.path));

  // The group is known to serve a store: nothing here may be created, waiting or not.
  a.options.expect_store_id = "0123456789abcdef0123456789abcdef";
  std::optional<LockResult> r;
  locker.TryLock(a, Into(r));
  REQUIRE(loop.RunUntil([&] { return r.has_value(); }));
  REQUIRE_FALSE(r->ok());
  CHECK(r->status().IsNotFound());
  CHECK(r->status().ToString().find("the group already serves store 0123") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(a.options.path));
}

}  // TEST_SUITE

}  // namespace tandem::ft
