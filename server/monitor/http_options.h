// http_options.h: where the monitoring HTTP server listens (empty host means off), and where
// its /backup may write.
#pragma once

#include <string>

namespace tandem::server {

struct HttpOptions {
  std::string host;  // empty: monitoring is off
  int port = 0;
  bool https = false;      // `https: HOST:PORT`: TLS with the certificate of the `tls` section
  std::string backup_dir;  // `backup.dir`: where /backup writes copies; empty: off
};

}  // namespace tandem::server
