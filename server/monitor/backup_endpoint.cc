// backup_endpoint.cc: GET and POST /backup (see backup_endpoint.h).
#include "server/monitor/backup_endpoint.h"

#include <cctype>
#include <filesystem>

#include <nlohmann/json.hpp>

namespace tandem::server {
namespace {

HttpResponse Answer(int status, const nlohmann::json& j) {
  HttpResponse r = HttpResponse::Json(status, j.dump(2) + "\n");
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

HttpResponse Refuse(int status, const std::string& error) {
  return Answer(status, nlohmann::json{{"error", error}});
}

}  // namespace

bool ValidBackupName(const std::string& name) {
  if (name.empty() || name.size() > 128 || name[0] == '.') return false;
  for (unsigned char c : name) {
    if (!std::isalnum(c) && c != '.' && c != '_' && c != '-') return false;
  }
  return true;
}

BackupEndpoint::BackupEndpoint(MonitorSource* source, std::string dir)
    : source_(source), dir_(std::move(dir)) {}

HttpResponse BackupEndpoint::Report(const HttpRequest& req) {
  if (dir_.empty()) return Refuse(403, "backup is off: set backup.dir in the configuration");
  if (req.params.count("to") != 0) {
    HttpResponse r = Refuse(405, "a backup is started with POST /backup?to=NAME, not GET");
    r.headers.emplace_back("Allow", "GET, HEAD, POST");
    return r;
  }
  const State& st = *state_;
  nlohmann::json j{{"state", st.state}};
  if (!st.file.empty()) j["file"] = st.file;
  if (st.state == "done") {
    j["bytes"] = st.result.bytes;
    j["elapsed_ms"] = st.result.elapsed_ms;
    j["steps"] = st.result.steps;
    j["max_step_us"] = st.result.max_step_us;
  }
  if (!st.error.empty()) j["error"] = st.error;
  return Answer(200, j);
}

HttpResponse BackupEndpoint::Start(const HttpRequest& req) {
  if (dir_.empty()) return Refuse(403, "backup is off: set backup.dir in the configuration");
  const State& st = *state_;
  const auto it = req.params.find("to");
  if (it == req.params.end()) return Refuse(400, "backup: POST /backup needs ?to=NAME");
  RoleInfo role = source_->role();
  if (!role.serving) {
    return Refuse(503, "only the active can take a backup: this instance is " + role.role);
  }
  const std::string& name = it->second;
  if (!ValidBackupName(name)) {
    return Refuse(400, "backup: to=\"" + name + "\" is not a file name (letters, digits, '.', " +
                           "'_', '-', not starting with '.'); the file is written in " + dir_);
  }
  if (st.state == "running") return Refuse(409, "a backup is running already: " + st.file);
  const std::string path = (std::filesystem::path(dir_) / name).string();
  *state_ = State{"running", path, "", {}};
  source_->StartBackup(path, [state = state_, path](const Status& s, const store::BackupResult& r) {
    if (state->file != path) return;  // not ours (cannot happen while one runs at a time)
    state->state = s.ok() ? "done" : "failed";
    state->error = s.ok() ? "" : s.ToString();
    state->result = r;
  });
  if (state_->state == "failed") return Refuse(500, state_->error);  // refused at once
  return Answer(202, nlohmann::json{{"state", state_->state}, {"file", path}});
}

}  // namespace tandem::server
