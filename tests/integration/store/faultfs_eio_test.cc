// faultfs_eio_test.cc: I/O errors under a pair whose one store is on faultfs (tests/faultfs),
// under the verifying streaming load of ft_harness.h (numbered messages, a durable subscriber
// and a durable queue group).
//
// - `eio-fsync`: the next sync fails with EIO and faultfs drops that file's unsynced data, as
//   Linux does with the dirty pages of a failed writeback. The active must stop acknowledging
//   and exit with status 3 saying why; the standby takes over from what is on disk and serves;
//   no acknowledged message is lost.
// - `eio-write`: the next write fails with EIO; the same is expected.
// - `enospc-write`: every write fails with ENOSPC. The active must stop acknowledging and exit
//   with status 3 and a log line that says the disk is full ("disk full"); the standby cannot take
//   over while nothing can be written (its attempts fail and it keeps trying); after `clear` it
//   takes over and serves, the restarted first member stands by, and no acknowledged message is
//   lost.
#include <chrono>
#include <memory>
#include <string>

#include <doctest/doctest.h>

#include "tests/support/faultfs_mount.h"
#include "tests/support/ft_harness.h"
#include "tests/support/tandem_process.h"
#include "tests/support/temp_dir.h"

namespace tandem::test {
namespace {

using std::chrono::milliseconds;

// Members "a" and "b" of one group on one port, their store on a faultfs mount.
struct FaultFsPair {
  FaultFsMount fs;
  TempDir dir;  // configs and logs, off the mount
  int port = FreePort();
  std::unique_ptr<FtMember> a, b;

  void Start() {
    std::string error;
    REQUIRE_MESSAGE(fs.Mount(&error), error);
    a = std::make_unique<FtMember>(dir.path(), OnMount("a"));
    b = std::make_unique<FtMember>(dir.path(), OnMount("b"));
    REQUIRE(a->Start());
    REQUIRE_MESSAGE(a->WaitActive(milliseconds(20000)), a->process().Log());
    REQUIRE(b->Start());
    REQUIRE_MESSAGE(b->WaitStandby(milliseconds(20000)), b->process().Log());
  }
  FtMemberOptions OnMount(const std::string& name) {
    FtMemberOptions o = MemberOptions(dir, name, port);
    o.store_dir = fs.mountpoint() + "/store";
    return o;
  }
  std::string url() const { return "nats://127.0.0.1:" + std::to_string(port); }
};

void CheckNoLoss(StanLoad& load) {
  LoadReport r = load.Settle(milliseconds(30000));
  INFO("published ", r.published, ", acked ", r.acked, ", unacked ", r.unacked, ", duplicates ",
       r.duplicates, ", lost: ", r.first_lost);
  CHECK(r.acked > 200);
  CHECK(r.lost == 0);
}

// Starts the pair and the load, arms `fault` once acknowledgements flow, and checks that the
// active then exits with status 3, saying that it writes no more and why (`reason`, or
// `other_reason` when not empty).
void InjectAndExpectExit(FaultFsPair& pair, StanLoad& load, const char* fault, const char* reason,
                         const char* other_reason = "") {
  pair.Start();
  std::string error;
  REQUIRE_MESSAGE(load.Start(&error), error);
  REQUIRE(AcksGrow(load, 200, milliseconds(20000)));

  REQUIRE(pair.fs.Command(fault));
  auto rc = pair.a->process().WaitExit(milliseconds(20000));
  const std::string log = pair.a->process().Log();
  REQUIRE_MESSAGE(rc.has_value(), "the active did not exit after " << fault << ":\n" << log);
  CHECK_MESSAGE(*rc == 3, log);
  CHECK_MESSAGE(log.find("exits now without another write") != std::string::npos, log);
  CHECK_MESSAGE((log.find(reason) != std::string::npos ||
                 (*other_reason != '\0' && log.find(other_reason) != std::string::npos)),
                log);
  CHECK(pair.fs.Counters()["injected"] >= 1);
}

// After a one-shot fault the standby takes over from what is on disk and serves; no
// acknowledged message is lost.
void StandbyServesAfter(const char* fault, const char* reason, const char* other_reason) {
  FaultFsPair pair;
  StanLoad load(pair.url(), "ft-test", "orders", 1000);
  InjectAndExpectExit(pair, load, fault, reason, other_reason);
  const int64_t exited_us = SteadyNowUs();
  REQUIRE_MESSAGE(pair.b->WaitActive(milliseconds(20000)), pair.b->process().Log());
  CHECK(AcksGrow(load, 200, milliseconds(20000)));
  CHECK(DeliveriesGrow(load, 200, milliseconds(20000)));
  CHECK(load.last_ack_us() > exited_us);  // from the new active
  CheckNoLoss(load);
}

}  // namespace

TEST_CASE("faultfs: EIO on fsync stops the active (status 3); the standby serves") {
  // tandem's own fdatasync of the WAL says "Input/output error"; SQLite's, at a checkpoint,
  // "disk I/O error".
  StandbyServesAfter("eio-fsync", "Input/output error", "disk I/O error");
}

TEST_CASE("faultfs: EIO on a write stops the active (status 3); the standby serves") {
  StandbyServesAfter("eio-write", "disk I/O error", "Input/output error");
}

TEST_CASE("faultfs: ENOSPC on write stops the active; after clear a member serves again") {
  FaultFsPair pair;
  StanLoad load(pair.url(), "ft-test", "orders", 1000);
  InjectAndExpectExit(pair, load, "enospc-write", "disk full");
  const uint64_t acked_at_exit = load.acked();

  // While nothing can be written, the standby cannot take over (its epoch bump fails with a
  // full disk): it waits for room, and does not give up.
  CHECK_MESSAGE(pair.b->process().WaitForLog("waiting for room", milliseconds(20000)),
                pair.b->process().Log());
  CHECK_FALSE(pair.b->IsActive());
  CHECK(load.acked() == acked_at_exit);

  REQUIRE(pair.fs.Command("clear"));
  REQUIRE_MESSAGE(pair.b->WaitActive(milliseconds(20000)), pair.b->process().Log());
  REQUIRE(pair.a->Start());
  REQUIRE_MESSAGE(pair.a->WaitStandby(milliseconds(20000)), pair.a->process().Log());
  CHECK(AcksGrow(load, 200, milliseconds(20000)));
  CHECK(DeliveriesGrow(load, 200, milliseconds(20000)));
  CheckNoLoss(load);
}

}  // namespace tandem::test
