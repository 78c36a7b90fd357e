// store_space_test.cc: a store that gives space back, through the real binary. A channel is
// filled with about 12 MB, its messages expire (limits.max_age), and the store file shrinks
// while the store is idle (incremental vacuum): the file on disk, storez's file_bytes and
// free_pages, and /metrics' tandem_store_file_bytes and tandem_store_free_pages all say so.
#include <signal.h>
#include <sys/stat.h>

#include <chrono>
#include <string>
#include <thread>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "server/monitor/status_command.h"
#include "tests/support/stan_client.h"
#include "tests/support/tandem_process.h"
#include "tests/support/temp_dir.h"

namespace tandem::test {
namespace {

using Clock = std::chrono::steady_clock;

uint64_t FileSize(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

nlohmann::json Storez(int http) {
  auto reply = server::HttpGet("127.0.0.1", http, "/streaming/storez", 5000);
  REQUIRE(reply.ok());
  REQUIRE(reply->status == 200);
  return nlohmann::json::parse(reply->body);
}

// The value of an unlabelled metric in /metrics, or -1.
double Metric(int http, const std::string& name) {
  auto reply = server::HttpGet("127.0.0.1", http, "/metrics", 5000);
  REQUIRE(reply.ok());
  const std::string key = "\n" + name + " ";
  size_t at = reply->body.find(key);
  if (at == std::string::npos) return -1;
  return std::stod(reply->body.substr(at + key.size()));
}

TEST_CASE("the store file shrinks after its messages expire, and storez and /metrics say so") {
  TempDir dir;
  const std::string config = dir.WriteFile("a.yaml", "limits: {max_age: 10s}\n");
  const int port = FreePort(), http = FreePort();
  TandemProcess server;
  REQUIRE(server.Start({"serve", "--config", config, "--listen",
                        "127.0.0.1:" + std::to_string(port), "--http",
                        "127.0.0.1:" + std::to_string(http), "--store", dir.Join("store")}));
  REQUIRE(server.WaitForPort(port));
  REQUIRE(server.WaitForPort(http));
  std::string error;
  stanConnection* sc =
      ConnectStan("nats://127.0.0.1:" + std::to_string(port), "test-cluster", "pub", {}, &error);
  REQUIRE_MESSAGE(sc != nullptr, error);
  const std::string payload(8000, 'x');
  for (int i = 0; i < 1500; ++i) {
    REQUIRE(stanConnection_Publish(sc, "fill", payload.data(),
                                   static_cast<int>(payload.size())) == NATS_OK);
  }
  stanConnection_Close(sc);
  stanConnection_Destroy(sc);

  // The file grows (the log is copied back into it at checkpoints) to most of the 12 MB.
  const std::string db = dir.Join("store") + "/store.db";
  uint64_t peak = 0;
  const auto filled = Clock::now() + std::chrono::seconds(3);
  while (Clock::now() < filled) {
    peak = std::max(peak, FileSize(db));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  INFO("peak file size ", peak);
  REQUIRE(peak > 4'000'000);

  // Expired after 10 s, then given back while idle: well under a tenth of the peak.
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  nlohmann::json storez;
  for (;;) {
    storez = Storez(http);
    // Every message expired too: on a slow machine the last publishes expire seconds after the
    // first, and the file may already be under a tenth while they are still there.
    if (storez["total_msgs"] == 0 && FileSize(db) < peak / 10 &&
        storez["file_bytes"].get<uint64_t>() < peak / 10 &&
        storez["free_pages"].get<uint64_t>() < 256) {
      break;
    }
    REQUIRE_MESSAGE(Clock::now() < deadline, "the file did not shrink: ", FileSize(db),
                    " bytes; storez: ", storez.dump());
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  CHECK(storez["total_msgs"] == 0);
  CHECK(storez["page_bytes"] == 4096);
  CHECK(storez["pages"].get<uint64_t>() * 4096 >= storez["file_bytes"].get<uint64_t>());
  const double metric_bytes = Metric(http, "tandem_store_file_bytes");
  CHECK(metric_bytes > 0);
  CHECK(metric_bytes < peak / 10);
  const double metric_free = Metric(http, "tandem_store_free_pages");
  CHECK(metric_free >= 0);
  CHECK(metric_free < 256);
  server.Signal(SIGTERM);
  CHECK(server.WaitExit() == 0);
}

}  // namespace
}  // namespace tandem::test
