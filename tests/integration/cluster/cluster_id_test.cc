// cluster_id_test.cc: the start-up check that no other streaming server serves the cluster id on
// the external cluster (server/stan/cluster_id_check.h), with real processes: one nats-server,
// a pair serving cluster id "ext-test" under a streaming load, then the members of a second
// pair (another store, the same cluster id) and a single instance: each exits with status 1 and
// the reference's line, and the first pair's probe client is closed again. The first pair's own
// standby, started beside its active, is not refused, and neither is a takeover.
#include <signal.h>

#include <chrono>
#include <string>

#include <doctest/doctest.h>

#include "tests/support/external_pair.h"
#include "tests/support/ft_harness.h"
#include "tests/support/nats_cluster.h"
#include "tests/support/tandem_process.h"
#include "tests/support/temp_dir.h"

namespace tandem::test {
namespace {

using std::chrono::milliseconds;

constexpr const char* kRefused = "discovered another streaming server with cluster ID \"ext-test\"";

}  // namespace

TEST_SUITE("cluster_id") {

TEST_CASE("external: a second deployment with the same cluster id is refused at start") {
  NatsCluster cluster(1);
  REQUIRE(cluster.Start());
  // The first pair: b starts beside its active and passes the check (a ignores its group's probe).
  ExternalPair first(cluster.Url(0));
  REQUIRE(first.Start());
  CHECK(first.b.process().Log().find(kRefused) == std::string::npos);
  CHECK(first.a.process().WaitForLog("a member of this group checked the cluster id"));
  std::string error;
  REQUIRE_MESSAGE(first.StartLoad(cluster.Url(0), "orders", 300, &error), error);

  // A second pair (group "h", its own store) and a single instance, same cluster id.
  ExternalPairOptions so;
  so.servers = cluster.Url(0);
  so.group = "h";
  ExternalPair second(so);
  for (FtMember* m : {&second.a, &second.b}) {
    CAPTURE(m->name());
    REQUIRE(m->Start());
    auto rc = m->process().WaitExit(milliseconds(15000));
    REQUIRE(rc.has_value());
    CHECK(*rc == 1);
    CHECK(m->process().Log().find(kRefused) != std::string::npos);
    CHECK(m->process().Log().find("streaming layer serving") == std::string::npos);
  }
  TempDir dir;
  TandemProcess single;
  auto rc = single.Run({"serve", "--nats-server", cluster.Url(0), "--cluster-id", "ext-test",
                        "--store", dir.Join("store")},
                       milliseconds(15000));
  REQUIRE(rc.has_value());
  CHECK(*rc == 1);
  CHECK(single.Log().find(kRefused) != std::string::npos);
  // Each probe registered a client named after the cluster id at the first pair's active, and
  // closed it again.
  const std::string log = first.a.process().Log();
  size_t registered = 0, closed = 0;
  for (size_t at = log.find("client ext-test registered"); at != std::string::npos;
       at = log.find("client ext-test registered", at + 1)) {
    ++registered;
  }
  for (size_t at = log.find("client ext-test closed"); at != std::string::npos;
       at = log.find("client ext-test closed", at + 1)) {
    ++closed;
  }
  CHECK(registered == 3);
  CHECK(closed == 3);

  // A takeover is no start: the first pair's standby takes over without a check.
  StanLoad& load = first.load();
  REQUIRE(first.a.process().Signal(SIGKILL));
  REQUIRE(first.a.process().WaitExit().has_value());
  REQUIRE(first.b.WaitActive(milliseconds(5000)));
  CHECK(AcksGrow(load, 100, milliseconds(10000)));
  CHECK(SettleAndReport(load, "cluster_id").lost == 0);
}

}  // TEST_SUITE

}  // namespace tandem::test
