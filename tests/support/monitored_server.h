// monitored_server.h: what the monitoring integration tests share: a running `tandem serve` on
// free loopback ports for clients and for monitoring HTTP, stopped with SIGTERM at the end of
// the test, which checks that it exits 0.
//
// Ownership: MonitoredServer owns its TandemProcess (and its TempDir). Thread safety: use it
// from the test's thread.
#pragma once

#include <signal.h>

#include <string>

#include <doctest/doctest.h>

#include "tests/support/tandem_process.h"

namespace tandem::test {

struct MonitoredServer {
  TandemProcess proc;
  int client_port = FreePort();
  int http_port = FreePort();

  MonitoredServer() {
    REQUIRE(proc.Start({"serve", "--listen", "127.0.0.1:" + std::to_string(client_port), "--http",
                        "127.0.0.1:" + std::to_string(http_port)}));
    REQUIRE_MESSAGE(proc.WaitForPort(http_port), proc.Log());
    REQUIRE_MESSAGE(proc.WaitForPort(client_port), proc.Log());
  }
  ~MonitoredServer() {
    proc.Signal(SIGTERM);
    auto status = proc.WaitExit();
    CHECK_MESSAGE(status == 0, proc.Log());
  }
  MonitoredServer(const MonitoredServer&) = delete;
  MonitoredServer& operator=(const MonitoredServer&) = delete;
};

}  // namespace tandem::test
