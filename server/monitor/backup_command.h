// backup_command.h: `tandem backup --http HOST:PORT --to NAME`, the client of GET /backup
// (backup_endpoint.h). It asks the instance for a backup into NAME inside the server's
// `backup.dir`, then polls /backup until the backup is done or failed, bounded by the
// timeout, and prints the file, its size and the time. Exit 0 when the copy is sealed, 1 when
// the server refused or the backup failed or timed out (the reason on stderr).
//
// Called by main.cc; reaches the network only through HttpPost/HttpGet (status_http.h). No loop, no
// threads. Thread safety: none needed.
#pragma once

#include <cstdio>
#include <string>

namespace tandem::server {

struct BackupOptions {
  std::string http = "127.0.0.1:8222";  // the active's monitoring address
  std::string to;                       // a file name inside the server's backup.dir
  int timeout_ms = 600000;              // the whole backup
  int poll_ms = 100;                    // between two looks at /backup
};

int RunBackup(const BackupOptions& options, std::FILE* out, std::FILE* err);

}  // namespace tandem::server
