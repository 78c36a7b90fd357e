// monitor_slowloris_test.cc: slow HTTP clients through the real binary. Hundreds of half-sent
// requests from 127.0.0.1 (the address the probes come from too) must not keep /healthz from
// answering, and a connection that never completes its request head is closed after the header
// timeout (5 s) while a keep-alive connection that completed a request stays open.
#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include "server/monitor/status_command.h"
#include "tests/support/monitored_server.h"
#include "tests/support/tandem_process.h"

#include <sys/socket.h>

namespace tandem::test {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::duration_cast;

constexpr int kSlowClients = 300;
constexpr const char* kHalfRequest = "GET /healthz HTTP/1.1\r\nHost: x\r\n";  // no blank line

// True once the peer closed `fd` (or reset it); false while it is open, even with unread data.
bool PeerClosed(int fd) {
  char c;
  ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT | MSG_PEEK);
  return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

// Opens a connection and sends a request head that never ends. A send may fail when the server
// closed the connection already (it evicts slow clients); the attacker does not care.
std::unique_ptr<LineClient> OpenSlowClient(int port) {
  auto c = std::make_unique<LineClient>();
  if (!c->Connect(port, std::chrono::milliseconds(2000))) return nullptr;
  c->Send(kHalfRequest);
  return c;
}

// Counts the lines of `log` that contain `needle`.
int CountLines(const std::string& log, std::string_view needle) {
  int n = 0;
  for (size_t pos = log.find(needle); pos != std::string::npos; pos = log.find(needle, pos + 1))
    ++n;
  return n;
}

// A HEAD request on a keep-alive LineClient: true when "HTTP/1.1 200 OK" and the headers came.
bool HeadOk(LineClient& c, const std::string& path) {
  if (!c.Send("HEAD " + path + " HTTP/1.1\r\nHost: x\r\n\r\n")) return false;
  auto status = c.ReadLine();
  if (!status || *status != "HTTP/1.1 200 OK") return false;
  for (int i = 0; i < 50; ++i) {  // the headers, up to the blank line
    auto line = c.ReadLine();
    if (!line) return false;
    if (line->empty()) return true;
  }
  return false;
}

TEST_CASE("monitor_slowloris: /healthz answers every probe while 300 half-sent requests pile up") {
  MonitoredServer s;
  std::vector<std::unique_ptr<LineClient>> slow;
  for (int i = 0; i < kSlowClients; ++i) {
    auto c = OpenSlowClient(s.http_port);
    REQUIRE_MESSAGE(c != nullptr, "slow client " << i << " could not connect");
    slow.push_back(std::move(c));
  }

  // The attack goes on while the probes run: every 100 ms the attacker reopens (at most 20 of)
  // the half-sent connections the server closed, so the probes also meet fresh slow clients
  // after the first ones reached the header timeout.
  std::atomic<bool> stop{false};
  std::atomic<int> reopened{0};
  std::thread attacker([&] {
    while (!stop.load()) {
      int budget = 20;
      for (auto& c : slow) {
        if (budget == 0 || stop.load()) break;
        if (c && !PeerClosed(c->fd())) continue;
        c = OpenSlowClient(s.http_port);
        --budget;
        ++reopened;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });

  int ok = 0;
  std::vector<std::string> failures;
  for (int i = 0; i < 20; ++i) {
    // Every fourth probe is the load balancer's other question; a single instance is not the
    // active of an FT group, so it answers 204.
    bool ft_probe = i % 4 == 3;
    std::string path = ft_probe ? "/streaming/isFTActive" : "/healthz";
    int want = ft_probe ? 204 : 200;
    auto start = Clock::now();
    Result<server::HttpReply> r = server::HttpGet("127.0.0.1", s.http_port, path, 1000);
    auto ms = duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
    if (r.ok() && r->status == want && ms < 1000) {
      ++ok;
    } else {
      failures.push_back(
          "probe " + std::to_string(i) + " " + path + " after " + std::to_string(ms) +
          " ms: " + (r.ok() ? "HTTP " + std::to_string(r->status) : r.status().ToString()));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  stop = true;
  attacker.join();
  std::string all_failures;
  for (const auto& f : failures) all_failures += f + "\n";
  CHECK_MESSAGE(ok == 20, all_failures);
  MESSAGE("slow clients reopened during the probes: " << reopened.load());
  slow.clear();

  // The evictions are logged, rate-limited: a handful of summary lines (one per 5 s at most),
  // not one per connection.
  std::string log = s.proc.Log();
  int limit_lines = CountLines(log, "http: connection limit reached");
  int timeout_lines = CountLines(log, "closed at the 5s header timeout in");
  CHECK_MESSAGE(limit_lines >= 1, log);
  CHECK_MESSAGE(limit_lines + timeout_lines <= 6, log);
}

TEST_CASE("monitor_slowloris: an unfinished request head is closed after the header timeout") {
  MonitoredServer s;
  LineClient half, silent, keep_alive;
  REQUIRE(half.Connect(s.http_port));
  REQUIRE(silent.Connect(s.http_port));
  REQUIRE(keep_alive.Connect(s.http_port));
  auto start = Clock::now();
  REQUIRE(half.Send(kHalfRequest));
  REQUIRE(HeadOk(keep_alive, "/healthz"));  // a completed request: the idle timeout applies

  // The header timeout is 5 s: neither may be closed much earlier, both well before the 30 s
  // idle timeout.
  REQUIRE(half.WaitClosed(std::chrono::milliseconds(15000)));
  auto half_ms = duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
  REQUIRE(silent.WaitClosed(std::chrono::milliseconds(15000)));
  auto silent_ms = duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
  CHECK(half_ms >= 4000);
  CHECK(half_ms <= 12000);
  CHECK(silent_ms >= 4000);
  CHECK(silent_ms <= 12000);
  MESSAGE("half-sent head closed after " << half_ms << " ms, silent one after " << silent_ms
                                         << " ms");

  // Past the header timeout the keep-alive connection is still open and serves a request.
  while (Clock::now() - start < std::chrono::milliseconds(7000))
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK_FALSE(PeerClosed(keep_alive.fd()));
  CHECK(HeadOk(keep_alive, "/streaming/serverz"));
}

}  // namespace
}  // namespace tandem::test
