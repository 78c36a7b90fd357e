// Tests for ft/active_lock: the active's lock is exclusive (a second holder is Busy, even in one
// process: OFD locks belong to the open file, not the process), a standby's wait reports on the
// loop once the holder lets go (its descriptor closes, as at a kill -9), not before, and a wait
// on a free lock reports at once. Real files, a real uv loop; every wait bounded (RunUntil).
#include "ft/active_lock.h"

#include <uv.h>

#include <doctest/doctest.h>

#include "tests/store/store_fixture.h"

namespace tandem::ft {

using store::testing::TempDir;
using store::testing::TestLoop;

TEST_SUITE("active_lock") {
TEST_CASE("active_lock: exclusive; a waiter hears of the holder's end, and only then") {
  TempDir dir;
  TestLoop loop;
  const std::string path = dir.path() + "/store.db.active";
  auto active = std::make_unique<ActiveLock>(loop.get(), path);
  ActiveLock standby(loop.get(), path);
  REQUIRE(active->Hold().ok());
  CHECK(active->held());
  CHECK(standby.Hold().IsBusy());

  bool freed = false;
  standby.Arm([&] { freed = true; });
  CHECK(standby.armed());
  for (int i = 0; i < 20; ++i) uv_run(loop.get(), UV_RUN_NOWAIT);
  CHECK_FALSE(freed);

  bool closed = false;
  active->Close([&] { closed = true; });  // closes the descriptor: the kernel frees the lock
  REQUIRE(loop.RunUntil([&] { return freed && closed; }));
  CHECK_FALSE(standby.armed());
  active.reset();
  // The waiter let go at once: the next active takes it.
  REQUIRE(standby.Hold().ok());
  bool done = false;
  standby.Close([&] { done = true; });
  REQUIRE(loop.RunUntil([&] { return done; }));
}

TEST_CASE("active_lock: a wait on a free lock reports at once") {
  TempDir dir;
  TestLoop loop;
  ActiveLock standby(loop.get(), dir.path() + "/store.db.active");
  bool freed = false;
  standby.Arm([&] { freed = true; });
  REQUIRE(loop.RunUntil([&] { return freed; }));
  bool done = false;
  standby.Close([&] { done = true; });
  REQUIRE(loop.RunUntil([&] { return done; }));
}
}

}  // namespace tandem::ft
