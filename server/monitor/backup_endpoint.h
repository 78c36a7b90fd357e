// backup_endpoint.h: GET /backup on the monitoring port, the server side of `tandem backup`.
//
//   /backup?to=NAME   starts an online backup of the active's store into DIR/NAME, where DIR is
//                     `backup.dir` of the configuration: 202 {"state":"running","file":...}.
//   /backup           the state of the last backup: {"state": "idle" | "running" | "done" |
//                     "failed", "file", "bytes", "elapsed_ms", "steps", "max_step_us", "error"}.
//
// The server writes only inside DIR: NAME is a bare file name (letters, digits, '.', '_', '-',
// not starting with '.', at most 128 characters), never a path, and an existing file is never
// replaced. Refusals, each with {"error": ...}: 403 when backups are off (no backup.dir), 503 on
// an instance that is not the active, 400 for a bad NAME, 409 while a backup runs.
// The request is a GET (the monitoring server answers GET and HEAD only): it is harmless to
// repeat and is off unless configured.
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
  HttpResponse Handle(const HttpRequest& req);

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
