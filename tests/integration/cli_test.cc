// cli_test.cc: the tandem command line and process shell, end to end on the real binary:
// version and help, exit status 2 with a one-line message for every kind of bad configuration
// or flag, serving on a free port, address in use, and graceful stop on SIGTERM and SIGINT.
#include <signal.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>

#include <doctest/doctest.h>

#include "tests/support/tandem_process.h"

#include <sys/resource.h>

namespace tandem::test {
namespace {

bool Contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

// Runs `tandem serve <args>` expecting a configuration error: exit 2 and one line of output.
std::string ServeError(const std::vector<std::string>& args, TandemProcess& p) {
  std::vector<std::string> full{"serve"};
  full.insert(full.end(), args.begin(), args.end());
  auto rc = p.Run(full);
  INFO("log: ", p.Log());
  REQUIRE(rc.has_value());
  CHECK(*rc == 2);
  std::string log = p.Log();
  CHECK(std::count(log.begin(), log.end(), '\n') == 1);
  return log;
}

std::vector<std::string> ServeArgs(int port) {
  return {"serve", "--listen", "127.0.0.1:" + std::to_string(port), "--store", "data"};
}

}  // namespace

TEST_SUITE("cli") {
  TEST_CASE("cli: version") {
    TandemProcess p;
    auto rc = p.Run({"version"});
    REQUIRE(rc.has_value());
    CHECK(*rc == 0);
    CHECK(p.Log() == "tandem " TANDEM_VERSION "\n");

    TandemProcess q;
    rc = q.Run({"--version"});
    REQUIRE(rc.has_value());
    CHECK(*rc == 0);
    CHECK(Contains(q.Log(), TANDEM_VERSION));
  }

  TEST_CASE("cli: help lists the subcommands and every serve flag") {
    TandemProcess p;
    auto rc = p.Run({"--help"});
    REQUIRE(rc.has_value());
    CHECK(*rc == 0);
    CHECK(Contains(p.Log(), "serve"));
    CHECK(Contains(p.Log(), "version"));

    TandemProcess q;
    rc = q.Run({"serve", "--help"});
    REQUIRE(rc.has_value());
    CHECK(*rc == 0);
    for (const char* flag : {"--config", "--listen", "--http", "--store", "--cluster-id",
                             "--log-level", "--sync", "--ft-group", "--ft-name", "--ft-peers"}) {
      INFO(flag);
      CHECK(Contains(q.Log(), flag));
    }
  }

  TEST_CASE("cli: a bad command line exits 2 with one line") {
    SUBCASE("no subcommand") {
      TandemProcess p;
      auto rc = p.Run({});
      REQUIRE(rc.has_value());
      CHECK(*rc == 2);
      CHECK(Contains(p.Log(), "subcommand"));
    }
    SUBCASE("unknown subcommand") {
      TandemProcess p;
      auto rc = p.Run({"frobnicate"});
      REQUIRE(rc.has_value());
      CHECK(*rc == 2);
      CHECK(Contains(p.Log(), "frobnicate"));
    }
    SUBCASE("unknown flag") {
      TandemProcess p;
      std::string log = ServeError({"--bogus"}, p);
      CHECK(Contains(log, "--bogus"));
    }
    SUBCASE("flag without its value") {
      TandemProcess p;
      std::string log = ServeError({"--listen"}, p);
      CHECK(Contains(log, "--listen"));
    }
    SUBCASE("bad flag value") {
      TandemProcess p;
      std::string log = ServeError({"--sync", "fast"}, p);
      CHECK(log ==
            "tandem: config: --sync (store.sync): \"fast\" is not a sync mode (full or normal)\n");
    }
    SUBCASE("bad port") {
      TandemProcess p;
      std::string log = ServeError({"--listen", "127.0.0.1:99999"}, p);
      CHECK(Contains(log, "--listen (listen): \"127.0.0.1:99999\" has a port outside 1..65535"));
    }
  }

  TEST_CASE("cli: a bad config file exits 2 naming the key and the value") {
    TempDir dir;
    SUBCASE("missing file") {
      TandemProcess p;
      std::string log = ServeError({"--config", dir.Join("absent.yaml")}, p);
      CHECK(log == "tandem: config: " + dir.Join("absent.yaml") +
                       ": cannot read: No such file or directory\n");
    }
    SUBCASE("malformed YAML") {
      TandemProcess p;
      auto path = dir.WriteFile("t.yaml", "limits: {max_msgs: 5\n");
      std::string log = ServeError({"--config", path}, p);
      CHECK(Contains(log, "tandem: config: " + path + ": line "));
    }
    SUBCASE("unknown key") {
      TandemProcess p;
      auto path = dir.WriteFile("t.yaml", "nats:\n  max_payloadd: 1MiB\n");
      std::string log = ServeError({"--config", path}, p);
      CHECK(Contains(log, "tandem: config: " + path + ": nats.max_payloadd: unknown key"));
    }
    SUBCASE("bad value") {
      TandemProcess p;
      auto path = dir.WriteFile("t.yaml", "limits:\n  max_msgs: abc\n");
      std::string log = ServeError({"--config", path}, p);
      CHECK(log == "tandem: config: " + path + ": limits.max_msgs: \"abc\" is not a number\n");
    }
    SUBCASE("out of range") {
      TandemProcess p;
      auto path = dir.WriteFile("t.yaml", "ft: {missed: 0}\n");
      std::string log = ServeError({"--config", path}, p);
      CHECK(log == "tandem: config: " + path + ": ft.missed: \"0\" must be at least 1\n");
    }
  }

  TEST_CASE("cli: serve accepts clients and sends INFO") {
    int port = FreePort();
    REQUIRE(port > 0);
    TandemProcess p;
    REQUIRE(p.Start(ServeArgs(port)));
    REQUIRE(p.WaitForLog("listening for clients on 127.0.0.1:" + std::to_string(port)));
    LineClient c;
    REQUIRE(c.Connect(port));
    auto info = c.ReadLine();
    REQUIRE(info.has_value());
    CHECK(info->rfind("INFO {", 0) == 0);
    CHECK(Contains(*info, "\"max_payload\":1048576"));
    CHECK(p.Signal(SIGTERM));
    auto rc = p.WaitExit();
    INFO("log: ", p.Log());
    REQUIRE(rc.has_value());
    CHECK(*rc == 0);
  }

  TEST_CASE("cli: flags override the config file") {
    int file_port = FreePort(), flag_port = FreePort();
    TandemProcess p;
    TempDir dir;
    auto path = dir.WriteFile(
        "t.yaml", "listen: 127.0.0.1:" + std::to_string(file_port) + "\ncluster_id: from-file\n");
    REQUIRE(p.Start({"serve", "--config", path, "--listen",
                     "127.0.0.1:" + std::to_string(flag_port), "--store", "data"}));
    REQUIRE(p.WaitForLog("listening for clients on 127.0.0.1:" + std::to_string(flag_port)));
    CHECK(Contains(p.Log(), "cluster id from-file"));
    CHECK(p.Signal(SIGTERM));
    REQUIRE(p.WaitExit() == 0);
  }

  TEST_CASE("cli: port 0 logs the port really bound") {
    TandemProcess p;
    REQUIRE(p.Start({"serve", "--listen", "127.0.0.1:0", "--store", "data"}));
    REQUIRE(p.WaitForLog("listening for clients on 127.0.0.1:"));
    std::string log = p.Log();
    auto at = log.find("listening for clients on 127.0.0.1:");
    int port =
        std::stoi(log.substr(at + std::string("listening for clients on 127.0.0.1:").size()));
    CHECK(port > 0);
    LineClient c;
    CHECK(c.Connect(port));
    CHECK(p.Signal(SIGTERM));
    REQUIRE(p.WaitExit() == 0);
  }

  TEST_CASE("cli: SIGTERM and SIGINT stop the server cleanly") {
    for (int sig : {SIGTERM, SIGINT}) {
      const char* name = sig == SIGTERM ? "SIGTERM" : "SIGINT";
      CAPTURE(name);
      int port = FreePort();
      TandemProcess p;
      REQUIRE(p.Start(ServeArgs(port)));
      REQUIRE(p.WaitForPort(port));
      LineClient c;  // a connected client is closed by the shutdown, not left hanging
      REQUIRE(c.Connect(port));
      REQUIRE(c.ReadLine().has_value());
      CHECK(p.Signal(sig));
      auto rc = p.WaitExit();
      INFO("log: ", p.Log());
      REQUIRE(rc.has_value());
      CHECK(*rc == 0);
      CHECK(Contains(p.Log(), std::string(name) + " received, shutting down"));
      CHECK(Contains(p.Log(), "stopped cleanly"));
      CHECK_FALSE(Contains(p.Log(), "handle left open"));
      CHECK(c.WaitClosed());
    }
  }

  TEST_CASE("cli: an address in use is a clear error and exit 1") {
    int port = FreePort();
    TandemProcess first;
    REQUIRE(first.Start(ServeArgs(port)));
    REQUIRE(first.WaitForPort(port));
    TandemProcess second;
    auto rc = second.Run(ServeArgs(port));
    INFO("log: ", second.Log());
    REQUIRE(rc.has_value());
    CHECK(*rc == 1);
    CHECK(Contains(second.Log(), "cannot listen for clients on 127.0.0.1:" + std::to_string(port)));
    CHECK(Contains(second.Log(), "address already in use"));
    CHECK(first.Running());
    CHECK(first.Signal(SIGTERM));
    CHECK(first.WaitExit() == 0);
  }

  TEST_CASE("cli: log level filters lines") {
    int port = FreePort();
    TandemProcess p;
    auto args = ServeArgs(port);
    args.insert(args.end(), {"--log-level", "warn"});
    REQUIRE(p.Start(args));
    REQUIRE(p.WaitForPort(port));
    CHECK(p.Signal(SIGTERM));
    REQUIRE(p.WaitExit() == 0);
    CHECK_FALSE(Contains(p.Log(), " info "));
  }

  TEST_CASE("cli: the open files soft limit is raised to the hard limit") {
    // Start the child with a soft limit below the hard one (it inherits ours), then restore.
    struct rlimit saved;
    REQUIRE(getrlimit(RLIMIT_NOFILE, &saved) == 0);
    struct rlimit low = saved;
    if (low.rlim_max > 256) low.rlim_cur = 256;
    REQUIRE(setrlimit(RLIMIT_NOFILE, &low) == 0);
    int port = FreePort();
    TandemProcess p;
    bool started = p.Start(ServeArgs(port));
    REQUIRE(setrlimit(RLIMIT_NOFILE, &saved) == 0);
    REQUIRE(started);
    REQUIRE(p.WaitForPort(port));
    std::ifstream limits("/proc/" + std::to_string(p.pid()) + "/limits");
    std::string line, soft, hard;
    while (std::getline(limits, line)) {
      if (line.rfind("Max open files", 0) == 0) {
        std::istringstream fields(line.substr(std::string("Max open files").size()));
        fields >> soft >> hard;
      }
    }
    REQUIRE_FALSE(soft.empty());
    CHECK(soft == hard);
    CHECK(p.Signal(SIGTERM));
    CHECK(p.WaitExit() == 0);
  }

  TEST_CASE("cli: a killed server reports 128+signal") {
    int port = FreePort();
    TandemProcess p;
    REQUIRE(p.Start(ServeArgs(port)));
    REQUIRE(p.WaitForPort(port));
    CHECK(p.Signal(SIGKILL));
    CHECK(p.WaitExit() == 128 + SIGKILL);
    CHECK_FALSE(p.Running());
    CHECK_FALSE(p.Signal(SIGTERM));
  }

}  // TEST_SUITE
}  // namespace tandem::test
