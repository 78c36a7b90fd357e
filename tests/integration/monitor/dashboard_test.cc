// dashboard_test.cc: the dashboard at / of the monitoring port through the real binary: its
// HTTP answers (types, Content-Security-Policy, caching, 404 for unknown paths), and the page
// rendered by a real headless Chromium against a running pair under a streaming load: role
// names of both members, one row per channel, the store's size, the time of a takeover, and a
// failed poll shown with the last data greyed; a screenshot is written next
// to the tandem binary (the README's copy is server/monitor/dashboard/screenshot.png).
#include <sys/wait.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include "tests/support/ft_harness.h"
#include "tests/support/monitored_server.h"
#include "tests/support/stan_client.h"
#include "tests/support/tandem_process.h"
#include "tests/support/temp_dir.h"

namespace tandem::test {
namespace {

// Runs `cmd` with a shell; returns its exit status and fills `out` with its stdout.
int Shell(const std::string& cmd, std::string* out) {
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  char buf[8192];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out->append(buf, n);
  int status = pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// `curl -si` of a path: the status line, headers and body as one string.
std::string Curl(int port, const std::string& path, const std::string& extra = "") {
  std::string out;
  int rc = Shell("curl -sS -i --max-time 5 " + extra + " http://127.0.0.1:" +
                     std::to_string(port) + path + " 2>&1",
                 &out);
  REQUIRE_MESSAGE(rc == 0, "curl " << path << " failed: " << out);
  return out;
}

bool Has(const std::string& hay, const std::string& needle) {
  return hay.find(needle) != std::string::npos;
}

// The chromium binary; the test fails (never skips) when it is missing. Looked up once, on the
// test's thread.
std::string Chromium() {
  static std::string found;
  if (!found.empty()) return found;
  std::string out;
  Shell("command -v chromium || command -v chromium-browser", &out);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  REQUIRE_MESSAGE(!out.empty(),
                  "chromium is not installed: scripts/install-deps installs it (Debian chromium)");
  found = out;
  return out;
}

// Headless Chromium on `url` with `args` (--dump-dom or --screenshot=...), bounded by timeout(1);
// returns stdout. Polls run in virtual time: the budget lets the page poll a few times.
std::string Browse(const TempDir& dir, const std::string& url, const std::string& args,
                   int budget_ms = 6000) {
  std::string out;
  std::string cmd = "timeout 40 " + Chromium() +
                    " --headless=new --disable-gpu --no-sandbox --no-first-run"
                    " --hide-scrollbars --user-data-dir=" +
                    dir.Join("chromium") + " --virtual-time-budget=" +
                    std::to_string(budget_ms) + " " + args + " " + url +
                    " 2>" + dir.Join("chromium.err");
  int rc = Shell(cmd, &out);
  if (rc != 0) MESSAGE("chromium exited " << rc);
  return out;
}

// The text between `from` and the next `to` after it.
std::string Between(const std::string& s, const std::string& from, const std::string& to) {
  size_t a = s.find(from);
  if (a == std::string::npos) return "";
  size_t b = s.find(to, a + from.size());
  return s.substr(a + from.size(), b == std::string::npos ? std::string::npos : b - a - from.size());
}

int Count(const std::string& hay, const std::string& needle) {
  int n = 0;
  for (size_t p = hay.find(needle); p != std::string::npos; p = hay.find(needle, p + 1)) ++n;
  return n;
}

// The active's page at 1280x900, written next to the tandem binary (the committed copy in
// server/monitor/dashboard/ is not touched).
void WriteScreenshot(const TempDir& dir, const std::string& url) {
  std::filesystem::path png = std::filesystem::path(TANDEM_BIN).parent_path() / "dashboard.png";
  std::filesystem::remove(png);
  Browse(dir, url, "--window-size=1280,900 --screenshot=" + png.string());
  REQUIRE_MESSAGE(std::filesystem::exists(png), "no screenshot written: " << png);
  std::ifstream in(png, std::ios::binary);
  char magic[4] = {};
  in.read(magic, 4);
  CHECK(std::string(magic + 1, 3) == "PNG");
  CHECK(std::filesystem::file_size(png) > 20000);
}

// Stops the active `a`: `b` takes over, and its page says when (serverz' last_takeover).
void ShowsTakeover(const TempDir& dir, FtMember& a, FtMember& b, int http_b) {
  a.process().Signal(SIGTERM);
  CHECK(a.process().WaitExit() == 0);
  REQUIRE_MESSAGE(b.WaitActive(), b.process().Log());
  CHECK(Has(Curl(http_b, "/streaming/serverz"), "\"last_takeover\": \""));
  std::string dom_t;
  for (int attempt = 0; attempt < 3 && !Has(dom_t, "the latest at"); ++attempt) {
    dom_t = Browse(dir, "http://127.0.0.1:" + std::to_string(http_b) + "/", "--dump-dom");
  }
  INFO("after takeover: " << dom_t);
  CHECK(Has(dom_t, "b (this page)</td><td class=\"role role-ACTIVE\">ACTIVE</td>"));
  CHECK(Has(dom_t, "This member became active 1 time since it started at "));
  CHECK(Has(dom_t, "the latest at "));
}

TEST_SUITE("dashboard") {

TEST_CASE("dashboard: served at / with its type, CSP and validator; unknown paths stay 404") {
  MonitoredServer s;
  std::string page = Curl(s.http_port, "/");
  CHECK(Has(page, "HTTP/1.1 200 OK"));
  CHECK(Has(page, "Content-Type: text/html; charset=utf-8"));
  CHECK(Has(page, "Content-Security-Policy: default-src 'self'"));
  CHECK(Has(page, "X-Content-Type-Options: nosniff"));
  CHECK(Has(page, "Cache-Control: no-cache"));
  CHECK(Has(page, "<script src=\"/dashboard.js\""));
  CHECK_FALSE(Has(page, "http://"));  // no outside asset
  CHECK_FALSE(Has(page, "https://"));
  std::string js = Curl(s.http_port, "/dashboard.js");
  CHECK(Has(js, "Content-Type: text/javascript; charset=utf-8"));
  CHECK_FALSE(Has(js, "inboxes="));  // never asks for inboxes
  CHECK(Has(Curl(s.http_port, "/dashboard.css"), "Content-Type: text/css; charset=utf-8"));

  std::string etag = Between(page, "ETag: ", "\r\n");
  REQUIRE(!etag.empty());
  std::string again = Curl(s.http_port, "/", "-H 'If-None-Match: " + etag + "'");
  CHECK(Has(again, "HTTP/1.1 304 Not Modified"));

  CHECK(Has(Curl(s.http_port, "/index.html"), "HTTP/1.1 404 Not Found"));
  CHECK(Has(Curl(s.http_port, "/dashboard"), "HTTP/1.1 404 Not Found"));
  CHECK(Has(Curl(s.http_port, "/nope"), "HTTP/1.1 404 Not Found"));
  CHECK(Has(Curl(s.http_port, "/", "-X POST"), "HTTP/1.1 405"));
  CHECK(Has(Curl(s.http_port, "/streaming/serverz"), "application/json"));
}

TEST_CASE("dashboard: headless Chromium renders the pair, the channels and the store") {
  TempDir dir;
  int port = FreePort(), http_a = FreePort(), http_b = FreePort();
  FtMemberOptions oa = MemberOptions(dir, "a", port), ob = MemberOptions(dir, "b", port);
  oa.extra_args = {"--http", "127.0.0.1:" + std::to_string(http_a)};
  ob.extra_args = {"--http", "127.0.0.1:" + std::to_string(http_b)};
  FtMember a(dir.path(), oa), b(dir.path(), ob);
  REQUIRE(a.Start());
  REQUIRE_MESSAGE(a.WaitActive(), a.process().Log());
  REQUIRE(b.Start());
  REQUIRE_MESSAGE(b.WaitStandby(), b.process().Log());

  // A verifying load on orders.eu (a durable and a queue group, so subscriptions with pending
  // messages), and a few messages on two more channels from another client.
  const std::vector<std::string> channels = {"audit", "orders.eu", "orders.us"};
  const std::string url = "nats://127.0.0.1:" + std::to_string(port);
  StanLoad load(url, "ft-test", "orders.eu", 50);
  std::string error;
  REQUIRE_MESSAGE(load.Start(&error), error);
  stanConnection* pub = ConnectStan(url, "ft-test", "dash-pub", StanConnectOptions{}, &error);
  REQUIRE_MESSAGE(pub != nullptr, error);
  for (int i = 0; i < 20; ++i) {
    for (const char* ch : {"audit", "orders.us"}) {
      REQUIRE(stanConnection_Publish(pub, ch, "m", 1) == NATS_OK);
    }
  }
  REQUIRE(AcksGrow(load, 10, std::chrono::seconds(10)));

  // The active's page: both members with their roles, a row per channel, the store's size.
  // Bounded retries: on a loaded machine a first run may end before two polls came back.
  const std::string url_a = "http://127.0.0.1:" + std::to_string(http_a) + "/";
  std::string dom, chans;
  bool ok = false;
  for (int attempt = 0; attempt < 3 && !ok; ++attempt) {
    dom = Browse(dir, url_a, "--dump-dom");
    chans = Between(dom, "<table id=\"channels\">", "</table>");
    std::string bytes = Between(dom, "id=\"store-bytes\">", "<");
    ok = Has(dom, "updated") && Count(chans, "<tr data-channel=") == 3 && !bytes.empty() &&
         bytes != "0 B" && bytes != "–" && Has(dom, ">STANDBY<");
  }
  INFO("DOM: " << dom);
  REQUIRE(ok);
  std::string pair = Between(dom, "<table id=\"pair\">", "</table>");
  CHECK(Has(pair, "a (this page)</td><td class=\"role role-ACTIVE\">ACTIVE</td>"));
  CHECK(Has(pair, "<td class=\"name\">b</td><td class=\"role role-STANDBY\">STANDBY</td>"));
  for (const auto& ch : channels) {
    CHECK(Has(chans, "<tr data-channel=\"" + ch + "\"><td class=\"name\">" + ch + "</td>"));
  }
  CHECK(Has(chans, "<svg class=\"spark\""));
  // The store file's size on disk, with its free pages (storez file_bytes, free_pages).
  CHECK(Has(Between(dom, "id=\"store-file\">", "<"), "free pages)"));
  // No channel was deleted: storez's reclaim says none are left to reclaim.
  CHECK(Between(dom, "id=\"store-reclaim\">", "<") == "none left to reclaim");
  CHECK(Has(Between(dom, "<table id=\"subs\">", "</table>"), "<tr data-channel=\"orders.eu\">"));
  CHECK_FALSE(Has(dom, "_INBOX"));

  // The standby's page: itself STANDBY, the active it hears ACTIVE, and it says where the rest is.
  std::string dom_b;
  for (int attempt = 0; attempt < 3 && !Has(dom_b, "updated"); ++attempt) {
    dom_b = Browse(dir, "http://127.0.0.1:" + std::to_string(http_b) + "/", "--dump-dom");
  }
  INFO("standby DOM: " << dom_b);
  CHECK(Has(dom_b, "b (this page)</td><td class=\"role role-STANDBY\">STANDBY</td>"));
  CHECK(Has(dom_b, "<td class=\"name\">a</td><td class=\"role role-ACTIVE\">ACTIVE</td>"));
  CHECK(Has(dom_b, "channels and store are on the active"));

  WriteScreenshot(dir, url_a);

  load.StopPublishing();
  ShowsTakeover(dir, a, b, http_b);
  stanConnection_Close(pub);
  stanConnection_Destroy(pub);
}

TEST_CASE("dashboard: when polls fail the page says so and keeps the last data greyed") {
  // The page polls in virtual time, many polls a real second; the server is killed while the
  // page is open. A try whose page had not loaded before the kill is retried, waiting longer.
  Chromium();
  std::string dom;
  bool ok = false;
  for (int attempt = 0; attempt < 4 && !ok; ++attempt) {
    TempDir dir;
    int port = FreePort(), http = FreePort();
    TandemProcess p;
    REQUIRE(p.Start({"serve", "--listen", "127.0.0.1:" + std::to_string(port), "--http",
                     "127.0.0.1:" + std::to_string(http), "--store", dir.Join("store")}));
    REQUIRE_MESSAGE(p.WaitForPort(http), p.Log());
    std::thread browser([&] {
      dom = Browse(dir, "http://127.0.0.1:" + std::to_string(http) + "/", "--dump-dom", 600000);
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(1500 * (attempt + 1)));
    p.Signal(SIGKILL);
    p.WaitExit();
    browser.join();
    // A try counts only when a poll had brought data before the kill ("showing data from"):
    // on a loaded machine the first poll may not have come back yet ("no data yet").
    ok = Has(dom, "<table id=\"pair\">") && Has(dom, "poll failed at") &&
         Has(dom, "; showing data from ");
  }
  INFO("DOM: " << dom);
  REQUIRE(ok);
  CHECK(Has(dom, "<body class=\"stale\">"));
  CHECK(Has(dom, "class=\"status failed\""));
  CHECK(Has(dom, "; showing data from "));
  CHECK(Has(dom, "<td class=\"role role-ACTIVE\">ACTIVE</td>"));  // the last data stays
}

}  // TEST_SUITE

}  // namespace
}  // namespace tandem::test
