// backup_test.cc: online backup through the real binary. A publisher keeps publishing while
// `tandem backup` runs; every message acknowledged before the backup began is in the copy,
// which passes integrity_check and serves as a store when a second tandem starts on it (the
// restore steps of the README). Refusals are clear: backups off, a name that is not a bare file
// name, an existing file, a standby.
#include <signal.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>
#include <sqlite3.h>

#include "server/monitor/status_command.h"
#include "server/monitor/status_http.h"
#include "tests/support/stan_client.h"
#include "tests/support/tandem_process.h"
#include "tests/support/temp_dir.h"

namespace tandem::test {
namespace {

using Clock = std::chrono::steady_clock;

std::string Url(int port) { return "nats://127.0.0.1:" + std::to_string(port); }

std::vector<std::string> ServeArgs(const std::string& config, int port, int http,
                                   const std::string& store) {
  return {"serve", "--config", config, "--listen", "127.0.0.1:" + std::to_string(port),
          "--http", "127.0.0.1:" + std::to_string(http), "--store", store};
}

std::string IntegrityCheck(const std::string& path) {
  sqlite3* db = nullptr;
  std::string out = "cannot open";
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, nullptr);
    out = sqlite3_step(st) == SQLITE_ROW
              ? reinterpret_cast<const char*>(sqlite3_column_text(st, 0))
              : sqlite3_errmsg(db);
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
  return out;
}

struct Received {
  std::atomic<uint64_t> count{0};
  std::atomic<uint64_t> last_seq{0};
  std::atomic<bool> in_order{true};
};

void OnMsg(stanConnection*, stanSubscription*, const char*, stanMsg* m, void* closure) {
  auto* r = static_cast<Received*>(closure);
  const uint64_t seq = stanMsg_GetSequence(m);
  if (seq != r->last_seq.load() + 1) r->in_order = false;
  r->last_seq = seq;
  ++r->count;
  stanMsg_Destroy(m);
}

TEST_CASE("a backup taken under load holds every acknowledged message and restores as a store") {
  TempDir dir;
  const std::string backups = dir.Join("backups");
  REQUIRE(std::filesystem::create_directory(backups));
  const std::string config = dir.WriteFile("a.yaml", "backup: {dir: " + backups + "}\n");
  const int port = FreePort(), http = FreePort();
  TandemProcess server;
  REQUIRE(server.Start(ServeArgs(config, port, http, dir.Join("store"))));
  REQUIRE(server.WaitForPort(port));
  REQUIRE(server.WaitForPort(http));

  std::string error;
  stanConnection* sc = ConnectStan(Url(port), "test-cluster", "pub", {}, &error);
  REQUIRE_MESSAGE(sc != nullptr, error);
  const std::string payload(2000, 'p');
  auto publish = [&] {
    return stanConnection_Publish(sc, "orders", payload.data(), static_cast<int>(payload.size()));
  };
  uint64_t acked = 0;
  for (; acked < 3000; ++acked) REQUIRE(publish() == NATS_OK);

  // The publisher goes on during the backup; its acknowledgements before it are the floor.
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> acked_during{0};
  std::atomic<int> publish_errors{0};
  std::thread publisher([&] {
    while (!stop) {
      if (publish() == NATS_OK) {
        ++acked_during;
      } else {
        ++publish_errors;
      }
    }
  });
  TandemProcess cli;
  std::optional<int> rc =
      cli.Run({"backup", "--http", "127.0.0.1:" + std::to_string(http), "--to", "copy.db"},
              std::chrono::milliseconds(60000));
  stop = true;
  publisher.join();
  stanConnection_Close(sc);
  stanConnection_Destroy(sc);
  INFO(cli.Log());
  REQUIRE(rc == 0);
  const std::string copy = backups + "/copy.db";
  CHECK(cli.Log().find("backup: " + copy + ", ") != std::string::npos);
  CHECK(cli.Log().find(" bytes, ") != std::string::npos);
  CHECK(publish_errors == 0);
  MESSAGE("published during the backup: ", acked_during.load());
  CHECK(IntegrityCheck(copy) == "ok");
  CHECK(!std::filesystem::exists(backups + "/.copy.db.partial"));

  // The same name again: refused, the copy untouched.
  TandemProcess again;
  rc = again.Run({"backup", "--http", "127.0.0.1:" + std::to_string(http), "--to", "copy.db"});
  CHECK(rc == 1);
  CHECK(again.Log().find("exists already") != std::string::npos);
  // A path instead of a name: refused, nothing written outside the directory.
  TandemProcess bad;
  rc = bad.Run({"backup", "--http", "127.0.0.1:" + std::to_string(http), "--to", "../x.db"});
  CHECK(rc == 1);
  CHECK(bad.Log().find("to=\"../x.db\" is not a file name") != std::string::npos);
  CHECK(!std::filesystem::exists(dir.Join("x.db")));
  // A GET never starts a backup (a crawler or a prefetch must not write files): 405 naming the
  // POST, the state untouched, nothing written.
  Result<server::HttpReply> get =
      server::HttpGet("127.0.0.1", http, "/backup?to=by-get.db", 5000);
  REQUIRE(get.ok());
  CHECK(get->status == 405);
  CHECK(get->body.find("POST /backup?to=NAME") != std::string::npos);
  Result<server::HttpReply> state = server::HttpGet("127.0.0.1", http, "/backup", 5000);
  REQUIRE(state.ok());
  CHECK(nlohmann::json::parse(state->body)["file"] == copy);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  CHECK(!std::filesystem::exists(backups + "/by-get.db"));
  server.Signal(SIGTERM);
  REQUIRE(server.WaitExit() == 0);

  // Restore: the copy as store.db of a fresh directory, a member started on it.
  const std::string restored = dir.Join("restored");
  REQUIRE(std::filesystem::create_directory(restored));
  std::filesystem::copy_file(copy, restored + "/store.db");
  const int port2 = FreePort(), http2 = FreePort();
  TandemProcess second;
  REQUIRE(second.Start(ServeArgs(config, port2, http2, restored)));
  REQUIRE(second.WaitForPort(port2));
  stanConnection* sub_conn = ConnectStan(Url(port2), "test-cluster", "reader", {}, &error);
  REQUIRE_MESSAGE(sub_conn != nullptr, error);
  Received got;
  stanSubscription* sub =
      SubscribeStan(sub_conn, "orders", nullptr, nullptr, &OnMsg, &got, &error);
  REQUIRE_MESSAGE(sub != nullptr, error);
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  while (got.count < acked && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // whatever else the copy holds
  CHECK(got.count >= acked);
  CHECK(got.count <= acked + acked_during);
  CHECK(got.in_order);
  stanSubscription_Destroy(sub);
  stanConnection_Close(sub_conn);
  stanConnection_Destroy(sub_conn);
}

TEST_CASE("backups are refused when off and on a standby") {
  TempDir dir;
  const std::string backups = dir.Join("backups");
  REQUIRE(std::filesystem::create_directory(backups));
  const std::string off = dir.WriteFile("off.yaml", "log_level: info\n");
  const int port = FreePort(), http = FreePort();
  TandemProcess plain;
  REQUIRE(plain.Start(ServeArgs(off, port, http, dir.Join("plain"))));
  REQUIRE(plain.WaitForPort(http));
  TandemProcess cli;
  std::optional<int> rc =
      cli.Run({"backup", "--http", "127.0.0.1:" + std::to_string(http), "--to", "a.db"});
  CHECK(rc == 1);
  CHECK(cli.Log().find("backup is off: set backup.dir in the configuration") !=
        std::string::npos);
  plain.Signal(SIGTERM);
  CHECK(plain.WaitExit() == 0);

  // A pair on one store: the second member is a standby and says only the active can.
  const std::string on = dir.WriteFile("on.yaml", "backup: {dir: " + backups + "}\n");
  const int pair_port = FreePort(), http_a = FreePort(), http_b = FreePort();
  auto member = [&](int h, const char* name) {
    std::vector<std::string> args = ServeArgs(on, pair_port, h, dir.Join("shared"));
    args.insert(args.end(), {"--ft-group", "g", "--ft-name", name});
    return args;
  };
  TandemProcess a(dir.path(), "a.log"), b(dir.path(), "b.log");
  REQUIRE(a.Start(member(http_a, "a")));
  REQUIRE(a.WaitForPort(pair_port));
  REQUIRE(b.Start(member(http_b, "b")));
  REQUIRE(b.WaitForPort(http_b));
  TandemProcess to_standby;
  rc = to_standby.Run({"backup", "--http", "127.0.0.1:" + std::to_string(http_b), "--to", "b.db"});
  CHECK(rc == 1);
  CHECK(to_standby.Log().find("only the active can take a backup: this instance is standby") !=
        std::string::npos);
  CHECK(!std::filesystem::exists(backups + "/b.db"));

  // A bad backup.dir stops tandem before it starts, naming the key and the value.
  const std::string rel = dir.WriteFile("rel.yaml", "backup: {dir: backups}\n");
  TandemProcess bad;
  rc = bad.Run(ServeArgs(rel, FreePort(), FreePort(), dir.Join("x")));
  CHECK(rc == 2);
  CHECK(bad.Log().find("backup.dir: \"backups\" is not an absolute path") != std::string::npos);
}

}  // namespace
}  // namespace tandem::test
