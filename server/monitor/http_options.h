// http_options.h: where the monitoring HTTP server listens. Empty host means off.
#pragma once

#include <string>

namespace tandem::server {

struct HttpOptions {
  std::string host;  // empty: monitoring is off
  int port = 0;
  bool https = false;  // `https: HOST:PORT`: TLS with the certificate of the `tls` section
};

}  // namespace tandem::server
