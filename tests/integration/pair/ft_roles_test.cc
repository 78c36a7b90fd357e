// ft_roles_test.cc: the roles of a fault-tolerant group on one store, with real processes and
// real signals: one active and standbys; kill -9 and SIGTERM hand over; a stopped (SIGSTOP)
// active keeps its lock, so nobody takes over; three members; twenty simultaneous starts give
// exactly one active; with the lock skipped (--TEST-skip-lock) the dual-active detection fences
// the older active; a takeover whose activation fails exits 1 (a failed start), never 3.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include "tests/support/ft_harness.h"
#include "tests/support/tandem_process.h"
#include "tests/support/temp_dir.h"

namespace tandem::test {
namespace {

using std::chrono::milliseconds;

std::string Addr(int port) { return "127.0.0.1:" + std::to_string(port); }

// True when a client gets the INFO line on `port`.
bool Serves(int port) {
  LineClient c;
  if (!c.Connect(port, milliseconds(2000))) return false;
  auto line = c.ReadLine(milliseconds(2000));
  return line && line->rfind("INFO ", 0) == 0;
}

int CountActive(std::vector<std::unique_ptr<FtMember>>& members) {
  int n = 0;
  for (auto& m : members) n += m->IsActive() ? 1 : 0;
  return n;
}

bool LogHas(FtMember& m, std::string_view needle) {
  return m.process().Log().find(needle) != std::string::npos;
}

}  // namespace

TEST_SUITE("ft_roles") {

TEST_CASE_FIXTURE(FtPair, "ft: a pair on one store; kill -9 of the active hands over, twice") {
  REQUIRE(StartActiveThenStandby());
  CHECK(Serves(port));
  CHECK(a.process().WaitForLog("standby b joined", milliseconds(3000)));
  CHECK_FALSE(b.IsActive());

  REQUIRE(a.process().Signal(SIGKILL));
  CHECK(a.process().WaitExit() == 128 + SIGKILL);
  REQUIRE(b.WaitActive(milliseconds(3000)));
  CHECK(LogHas(b, "lost its connection to the active"));
  CHECK(Serves(port));

  // The old active comes back as the standby, then takes over in turn.
  REQUIRE(a.Start());
  REQUIRE(a.WaitStandby());
  CHECK(b.process().WaitForLog("standby a joined", milliseconds(3000)));
  REQUIRE(b.process().Signal(SIGKILL));
  REQUIRE(a.WaitActive(milliseconds(3000)));
  CHECK(Serves(port));
  CHECK(a.process().WaitForLog("epoch 3", milliseconds(1000)));
}

TEST_CASE_FIXTURE(FtPair, "ft: SIGTERM of the active hands over at once and exits 0") {
  REQUIRE(StartActiveThenStandby());
  REQUIRE(a.process().WaitForLog("standby b joined", milliseconds(3000)));

  auto t0 = std::chrono::steady_clock::now();
  REQUIRE(a.process().Signal(SIGTERM));
  REQUIRE(b.WaitActive(milliseconds(2000)));
  auto took = std::chrono::steady_clock::now() - t0;
  CHECK(took < milliseconds(1000));
  CHECK(a.process().WaitExit() == 0);
  std::string log = a.process().Log();
  size_t closed = log.find("store closed");
  size_t stopped = log.find("role stopping -> stopped");
  CHECK(closed != std::string::npos);
  CHECK(stopped != std::string::npos);
  CHECK(closed < stopped);  // the last heartbeat goes out after the lock is free
  CHECK(Serves(port));

  // A standby stops at once too.
  REQUIRE(a.Start());
  REQUIRE(a.WaitStandby());
  REQUIRE(a.process().Signal(SIGTERM));
  CHECK(a.process().WaitExit(milliseconds(5000)) == 0);
  CHECK_FALSE(a.IsActive());
  CHECK(Serves(port));
}

TEST_CASE_FIXTURE(FtPair, "ft: SIGSTOP of the active: no takeover while it holds the lock") {
  REQUIRE(StartActiveThenStandby());
  REQUIRE(b.process().WaitForLog("standing by for active a", milliseconds(3000)));

  REQUIRE(a.process().Signal(SIGSTOP));
  // The standby notices the silence and tries the lock, in vain.
  CHECK(b.process().WaitForLog("no heartbeat from active a", milliseconds(3000)));
  std::this_thread::sleep_for(milliseconds(1000));  // twenty heartbeat intervals
  CHECK_FALSE(b.IsActive());
  REQUIRE(a.process().Signal(SIGCONT));

  // Both carry on: a serves, b hears it again.
  CHECK(Serves(port));
  size_t heard = 0;
  for (int i = 0; i < 200 && heard < 2; ++i) {
    std::string log = b.process().Log();
    heard = 0;
    for (size_t p = log.find("standing by for active a"); p != std::string::npos;
         p = log.find("standing by for active a", p + 1)) {
      ++heard;
    }
    std::this_thread::sleep_for(milliseconds(10));
  }
  CHECK(heard >= 2);
  std::this_thread::sleep_for(milliseconds(300));
  CHECK_FALSE(b.IsActive());
  CHECK(a.process().Running());
  CHECK(b.process().Running());
  CHECK_FALSE(LogHas(a, "fenced"));
}

TEST_CASE("ft: three members: exactly one takes over each time") {
  TempDir dir;
  int port = FreePort();
  std::vector<std::unique_ptr<FtMember>> m;
  for (const char* name : {"a", "b", "c"}) {
    m.push_back(std::make_unique<FtMember>(dir.path(), MemberOptions(dir, name, port)));
  }
  REQUIRE(m[0]->Start());
  REQUIRE(m[0]->WaitActive());
  REQUIRE(m[1]->Start());
  REQUIRE(m[2]->Start());
  REQUIRE(m[1]->WaitStandby());
  REQUIRE(m[2]->WaitStandby());
  CHECK(m[0]->process().WaitForLog("standby c joined", milliseconds(3000)));

  REQUIRE(m[0]->process().Signal(SIGKILL));
  m[0]->process().WaitExit();
  bool one = false;
  for (int i = 0; i < 300 && !one; ++i) {
    one = m[1]->IsActive() || m[2]->IsActive();
    std::this_thread::sleep_for(milliseconds(10));
  }
  REQUIRE(one);
  std::this_thread::sleep_for(milliseconds(500));
  CHECK(CountActive(m) == 2);  // a (before it died) and exactly one of b, c
  FtMember& next = m[1]->IsActive() ? *m[1] : *m[2];
  FtMember& last = m[1]->IsActive() ? *m[2] : *m[1];
  CHECK(Serves(port));

  REQUIRE(next.process().Signal(SIGKILL));
  REQUIRE(last.WaitActive(milliseconds(3000)));
  CHECK(Serves(port));
}

TEST_CASE("ft: twenty simultaneous starts give exactly one active") {
  TempDir dir;
  int port = FreePort();
  std::vector<std::unique_ptr<FtMember>> m;
  for (int i = 0; i < 20; ++i) {
    m.push_back(std::make_unique<FtMember>(dir.path(),
                                           MemberOptions(dir, "m" + std::to_string(i), port)));
  }
  for (auto& member : m) REQUIRE(member->Start());
  int settled = 0;
  for (int i = 0; i < 2000 && settled < 20; ++i) {
    settled = 0;
    for (auto& member : m) {
      std::string log = member->process().Log();
      if (log.find(kActiveLine) != std::string::npos ||
          log.find(kStandbyLine) != std::string::npos) {
        ++settled;
      }
    }
    std::this_thread::sleep_for(milliseconds(10));
  }
  CHECK(settled == 20);
  CHECK(CountActive(m) == 1);
  CHECK(Serves(port));
  for (auto& member : m) CHECK(member->process().Running());
  // Still one after a while (standbys keep hearing the active).
  std::this_thread::sleep_for(milliseconds(500));
  CHECK(CountActive(m) == 1);
}

TEST_CASE("ft: with the lock skipped, the dual-active detection fences the older active") {
  TempDir dir;
  int pa = FreePort();
  int pb = FreePort();
  std::vector<std::string> peers{Addr(pa), Addr(pb)};
  FtMemberOptions oa = MemberOptions(dir, "a", pa, peers);
  FtMemberOptions ob = MemberOptions(dir, "b", pb, peers);
  oa.extra_args = ob.extra_args = {"--TEST-skip-lock"};
  FtMember a(dir.path(), oa);
  FtMember b(dir.path(), ob);
  REQUIRE(a.Start());
  REQUIRE(a.WaitActive());
  REQUIRE(b.Start());
  // Without the lock b opens the store too, with a higher epoch, and becomes active.
  REQUIRE(b.WaitActive());
  // a hears b's heartbeat (higher epoch), asks the store, which confirms that the epoch moved
  // on, and stops at once, with status 3, without a write.
  auto rc = a.process().WaitExit(milliseconds(3000));
  REQUIRE(rc.has_value());
  CHECK(*rc == 3);
  CHECK(LogHas(a, "claims to be active"));
  CHECK(LogHas(a, "fenced"));
  CHECK(LogHas(a, "another instance took over"));
  CHECK(b.process().Running());
  CHECK_FALSE(LogHas(b, "fenced"));
  CHECK(Serves(pb));
}

TEST_CASE("ft: a takeover that cannot serve is a failed start: exit 1, not the fenced 3") {
  // b wins the lock when a stops, but another program holds b's client port: the activation
  // fails before anything was served. That is a start that failed (exit 1, as for a store that
  // cannot be used), not an active stopped without another write (3).
  TempDir dir;
  int pa = FreePort();
  int pb = FreePort();
  int blocker = socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(blocker >= 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(pb));
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(blocker, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0);
  REQUIRE(listen(blocker, 1) == 0);
  FtMember a(dir.path(), MemberOptions(dir, "a", pa, {Addr(pa)}));
  FtMember b(dir.path(), MemberOptions(dir, "b", pb, {Addr(pa)}));
  REQUIRE(a.Start());
  REQUIRE(a.WaitActive());
  REQUIRE(b.Start());
  REQUIRE(b.WaitStandby());
  REQUIRE(a.process().Signal(SIGTERM));
  CHECK(a.process().WaitExit() == 0);
  auto rc = b.process().WaitExit(milliseconds(5000));
  close(blocker);
  INFO("log: ", b.process().Log());
  REQUIRE(rc.has_value());
  CHECK(*rc == 1);
  CHECK(LogHas(b, "holds the store lock"));
  CHECK(LogHas(b, "cannot listen for clients on " + Addr(pb)));
  CHECK(LogHas(b, "cannot become active"));
  CHECK_FALSE(LogHas(b, "fenced"));
}

}  // TEST_SUITE

}  // namespace tandem::test
