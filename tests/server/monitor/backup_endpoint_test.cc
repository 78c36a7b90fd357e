// backup_endpoint_test.cc: GET /backup's rules (server/monitor/backup_endpoint.h) over a fake
// source: off unless configured, the active only, bare file names inside the directory, one at
// a time, and the state a finished or failed backup leaves.
#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "server/monitor/backup_endpoint.h"

namespace tandem::server {
namespace {

class Source : public MonitorSource {
 public:
  RoleInfo role_info;
  std::string asked;  // the path StartBackup was given
  store::Store::BackupDone done;

  Source() {
    role_info.role = "active";
    role_info.serving = true;
  }
  IdentityInfo identity() const override { return {}; }
  RoleInfo role() const override { return role_info; }
  std::optional<CoreCounters> core_stats() const override { return std::nullopt; }
  std::vector<ConnInfo> connections() const override { return {}; }
  StreamingStats streaming_stats() const override { return {}; }
  std::vector<ChannelInfo> channels(bool) const override { return {}; }
  std::optional<ChannelInfo> channel(std::string_view, bool) const override { return {}; }
  std::vector<ClientInfo> clients(bool) const override { return {}; }
  std::optional<ClientInfo> client(std::string_view, bool) const override { return {}; }
  uint64_t subscription_count() const override { return 0; }
  void StartBackup(const std::string& path, store::Store::BackupDone d) override {
    asked = path;
    done = std::move(d);
  }
};

HttpRequest Request(const char* method, const std::string& to) {
  HttpRequest r;
  r.method = method;
  r.path = "/backup";
  if (!to.empty()) r.params["to"] = to;
  return r;
}

// POST /backup?to=NAME (NAME empty: no parameter).
HttpResponse Post(BackupEndpoint& ep, const std::string& to) {
  return ep.Start(Request("POST", to));
}

nlohmann::json Body(const HttpResponse& r) { return nlohmann::json::parse(r.body); }

// The body of GET /backup: the last backup's state.
nlohmann::json State(BackupEndpoint& ep) { return Body(ep.Report(Request("GET", ""))); }

TEST_SUITE("backup_endpoint") {

TEST_CASE("a backup name is a bare file name") {
  CHECK(ValidBackupName("store-2026-12-07.db"));
  CHECK(ValidBackupName("a_b.1"));
  CHECK_FALSE(ValidBackupName(""));
  CHECK_FALSE(ValidBackupName(".hidden"));
  CHECK_FALSE(ValidBackupName(".."));
  CHECK_FALSE(ValidBackupName("../x.db"));
  CHECK_FALSE(ValidBackupName("dir/x.db"));
  CHECK_FALSE(ValidBackupName("/etc/passwd"));
  CHECK_FALSE(ValidBackupName("a b"));
  CHECK_FALSE(ValidBackupName(std::string(129, 'a')));
}

TEST_CASE("off unless a directory is configured") {
  Source src;
  BackupEndpoint off(&src, "");
  HttpResponse r = Post(off, "x.db");
  CHECK(r.status == 403);
  CHECK(Body(r)["error"] == "backup is off: set backup.dir in the configuration");
  CHECK(src.asked.empty());
}

TEST_CASE("a standby and a bad name are refused before the store is asked") {
  Source src;
  BackupEndpoint ep(&src, "/backups");
  CHECK(Post(ep, "../x.db").status == 400);
  CHECK(Body(Post(ep, ""))["error"] == "backup: POST /backup needs ?to=NAME");
  src.role_info.role = "standby";
  src.role_info.serving = false;
  HttpResponse r = Post(ep, "x.db");
  CHECK(r.status == 503);
  CHECK(Body(r)["error"] == "only the active can take a backup: this instance is standby");
  CHECK(src.asked.empty());
}

TEST_CASE("one backup at a time, and its result is reported") {
  Source src;
  BackupEndpoint ep(&src, "/backups");
  CHECK(State(ep)["state"] == "idle");
  HttpResponse r = Post(ep, "one.db");
  CHECK(r.status == 202);
  CHECK(src.asked == "/backups/one.db");
  CHECK(Body(r)["file"] == "/backups/one.db");
  CHECK(Post(ep, "two.db").status == 409);
  CHECK(State(ep)["state"] == "running");

  store::BackupResult done;
  done.path = "/backups/one.db";
  done.bytes = 4096;
  done.elapsed_ms = 12;
  done.steps = 3;
  done.max_step_us = 900;
  src.done(Status::OK(), done);
  nlohmann::json j = State(ep);
  CHECK(j["state"] == "done");
  CHECK(j["bytes"] == 4096);
  CHECK(j["max_step_us"] == 900);

  CHECK(Post(ep, "two.db").status == 202);
  src.done(Status::IOError("/backups/two.db", "disk full"), store::BackupResult());
  j = State(ep);
  CHECK(j["state"] == "failed");
  CHECK(j["error"].get<std::string>().find("disk full") != std::string::npos);
}

TEST_CASE("a GET never starts a backup") {
  Source src;
  BackupEndpoint ep(&src, "/backups");
  HttpResponse r = ep.Report(Request("GET", "x.db"));
  CHECK(r.status == 405);
  CHECK(Body(r)["error"] == "a backup is started with POST /backup?to=NAME, not GET");
  CHECK(src.asked.empty());
  CHECK(State(ep)["state"] == "idle");
}

}  // TEST_SUITE

}  // namespace
}  // namespace tandem::server
