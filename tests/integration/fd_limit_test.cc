// fd_limit_test.cc: client connections refused at the open files limit, through the real
// binary. The test lowers the running server's RLIMIT_NOFILE (soft and hard, with prlimit, after
// its start raised the soft limit), opens connections until the server refuses them (closed
// without an INFO), and checks that the refusals are logged a few lines at a time with their
// count (not one line each), that the server does not spin while at the limit, and that it
// serves new connections again once some are closed.
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include "tests/support/tandem_process.h"

#include <sys/resource.h>

namespace tandem::test {
namespace {

using Clock = std::chrono::steady_clock;

int OpenFds(pid_t pid) {
  int n = 0;
  for ([[maybe_unused]] const auto& e :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd")) {
    ++n;
  }
  return n;
}

// utime + stime of `pid`, in clock ticks.
long CpuTicks(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::istringstream rest(stat.substr(stat.rfind(')') + 2));
  std::string field;
  long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stol(field);
    if (i == 15) stime = std::stol(field);
  }
  return utime + stime;
}

// The refusal lines of the log and the sum of the counts they report.
struct Refusals {
  int lines = 0;
  long total = 0;
};

Refusals CountRefusalLines(const std::string& log) {
  static const std::regex re(R"(refused (\d+) (more )?client connection)");
  Refusals r;
  for (auto it = std::sregex_iterator(log.begin(), log.end(), re); it != std::sregex_iterator();
       ++it) {
    ++r.lines;
    r.total += std::stol((*it)[1]);
  }
  return r;
}

}  // namespace

TEST_CASE("fd limit: refusals are logged with a count, and the listener keeps serving") {
  int port = FreePort();
  TandemProcess p;
  REQUIRE(p.Start({"serve", "--listen", "127.0.0.1:" + std::to_string(port), "--store", "data"}));
  REQUIRE(p.WaitForPort(port));
  const int base = OpenFds(p.pid());
  const rlim_t limit = static_cast<rlim_t>(base + 20);
  struct rlimit rl {
    limit, limit
  };
  REQUIRE_MESSAGE(prlimit(p.pid(), RLIMIT_NOFILE, &rl, nullptr) == 0, strerror(errno));

  // Connect until 10 connections were refused (closed without an INFO).
  std::vector<std::unique_ptr<LineClient>> served;
  int refused = 0;
  for (int i = 0; i < 200 && refused < 10; ++i) {
    auto c = std::make_unique<LineClient>();
    REQUIRE(c->Connect(port));
    auto info = c->ReadLine(std::chrono::milliseconds(5000));
    if (info.has_value()) {
      CHECK(info->rfind("INFO ", 0) == 0);
      served.push_back(std::move(c));
    } else {
      ++refused;
    }
  }
  INFO("log: ", p.Log());
  REQUIRE(refused == 10);
  CHECK(served.size() >= 5);
  CHECK(served.size() <= 25);

  // Not one line per refusal: the first refusal is logged at once, the others are counted and
  // summed up in one line when the window (a few seconds) ends.
  REQUIRE(p.WaitForLog("client connection", std::chrono::milliseconds(5000)));
  Refusals now = CountRefusalLines(p.Log());
  CHECK(now.lines >= 1);
  CHECK(now.lines <= 3);
  CHECK(p.Log().find("too many open files") != std::string::npos);

  // At the limit and idle, the server does not spin on its listener.
  long cpu_before = CpuTicks(p.pid());
  std::this_thread::sleep_for(std::chrono::seconds(2));
  long cpu_used = CpuTicks(p.pid()) - cpu_before;
  CHECK(cpu_used < sysconf(_SC_CLK_TCK) / 2);  // under 0.5 s of CPU in 2 s

  // Every refusal is counted once the window has passed.
  auto deadline = Clock::now() + std::chrono::seconds(20);
  Refusals all = CountRefusalLines(p.Log());
  while (all.total < refused && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    all = CountRefusalLines(p.Log());
  }
  CHECK(all.total == refused);
  CHECK(all.lines <= 4);

  // Closing some connections makes room: new connections are served again.
  for (int i = 0; i < 5; ++i) served.pop_back();
  bool served_again = false;
  deadline = Clock::now() + std::chrono::seconds(10);
  while (!served_again && Clock::now() < deadline) {
    LineClient c;
    REQUIRE(c.Connect(port));
    auto info = c.ReadLine(std::chrono::milliseconds(5000));
    if (info.has_value() && info->rfind("INFO ", 0) == 0) {
      REQUIRE(c.Send("CONNECT {\"verbose\":false}\r\nPING\r\n"));
      CHECK(c.ReadLine() == "PONG");
      served_again = true;
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  CHECK(served_again);
  // Connections that were kept are still served.
  REQUIRE(!served.empty());
  REQUIRE(served.front()->Send("CONNECT {\"verbose\":false}\r\nPING\r\n"));
  CHECK(served.front()->ReadLine() == "PONG");

  CHECK(p.Signal(SIGTERM));
  CHECK(p.WaitExit() == 0);
}

}  // namespace tandem::test
