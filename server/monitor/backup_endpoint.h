// backup_endpoint.h: /backup on the monitoring port, the server side of `tandem backup`.
//
//   POST /backup?to=NAME  starts an online backup of the active's store into DIR/NAME, where DIR
//                         is `backup.dir` of the configuration: 202 {"state":"running","file":...}.
//   GET /backup           the state of the last backup: {"state": "idle" | "running" | "done" |
//                         "failed", "file", "bytes", "elapsed_ms", "steps", "max_step_us",
//                         "error"}.
//
// The server writes only inside DIR: NAME is a bare file name (letters, digits, '.', '_', '-',
// not starting with '.', at most 128 characters), never a path, and an existing file is never
// replaced. Refusals, each with {"error": ...}: 403 when backups are off (no backup.dir), 503 on
// an instance that is not the active, 400 for a bad NAME, 409 while a backup runs.
// Starting is a POST because it does work and writes a file: a GET (a crawler, a browser's
// prefetch, a dashboard link) must never start one. `GET /backup?to=NAME` is answered 405 with a
// pointer to the POST, so that old scripts fail loudly instead of silently reading the state.
//
// Ownership: borrows the source; the state is shared with the pending completion, so the
// endpoint may go before the store finishes. Thread safety: loop thread only.
#pragma once

#include <memory>
#include <string>

#include "server/monitor/http_server.h"
#include "server/monitor/monitor_source.h"

namespace tandem::server {

// True when `name` is a file name a backup may be written to (see above).
bool ValidBackupName(const std::string& name);

class BackupEndpoint {
 public:
  BackupEndpoint(MonitorSource* source, std::string dir);
  HttpResponse Report(const HttpRequest& req);  // GET
  HttpResponse Start(const HttpRequest& req);   // POST

 private:
  struct State {
    std::string state = "idle";
    std::string file, error;
    store::BackupResult result;
  };

  MonitorSource* const source_;
  const std::string dir_;  // empty: backups are off
  std::shared_ptr<State> state_ = std::make_shared<State>();
};

}  // namespace tandem::server
