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

HttpRequest Get(const std::string& to) {
  HttpRequest r;
  r.method = "GET";
  r.path = "/backup";
  if (!to.empty()) r.params["to"] = to;
  return r;
}

nlohmann::json Body(const HttpResponse& r) { return nlohmann::json::parse(r.body); }

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
  HttpResponse r = off.Handle(Get("x.db"));
  CHECK(r.status == 403);
  CHECK(Body(r)["error"] == "backup is off: set backup.dir in the configuration");
  CHECK(src.asked.empty());
}

TEST_CASE("a standby and a bad name are refused before the store is asked") {
  Source src;
  BackupEndpoint ep(&src, "/backups");
  CHECK(ep.Handle(Get("../x.db")).status == 400);
  src.role_info.role = "standby";
  src.role_info.serving = false;
  HttpResponse r = ep.Handle(Get("x.db"));
  CHECK(r.status == 503);
  CHECK(Body(r)["error"] == "only the active can take a backup: this instance is standby");
  CHECK(src.asked.empty());
}

TEST_CASE("one backup at a time, and its result is reported") {
  Source src;
  BackupEndpoint ep(&src, "/backups");
  CHECK(Body(ep.Handle(Get("")))["state"] == "idle");
  HttpResponse r = ep.Handle(Get("one.db"));
  CHECK(r.status == 202);
  CHECK(src.asked == "/backups/one.db");
  CHECK(Body(r)["file"] == "/backups/one.db");
  CHECK(ep.Handle(Get("two.db")).status == 409);
  CHECK(Body(ep.Handle(Get("")))["state"] == "running");

  store::BackupResult done;
  done.path = "/backups/one.db";
  done.bytes = 4096;
  done.elapsed_ms = 12;
  done.steps = 3;
  done.max_step_us = 900;
  src.done(Status::OK(), done);
  nlohmann::json j = Body(ep.Handle(Get("")));
  CHECK(j["state"] == "done");
  CHECK(j["bytes"] == 4096);
  CHECK(j["max_step_us"] == 900);

  CHECK(ep.Handle(Get("two.db")).status == 202);
  src.done(Status::IOError("/backups/two.db", "disk full"), store::BackupResult());
  j = Body(ep.Handle(Get("")));
  CHECK(j["state"] == "failed");
  CHECK(j["error"].get<std::string>().find("disk full") != std::string::npos);
}

}  // TEST_SUITE

}  // namespace
}  // namespace tandem::server
