// disk_space_test.cc: a store on a full disk, through the real binary, on a small tmpfs that
// the test mounts (tests run as root; a failed mount fails the test). A server started on the
// full disk does not take the store: it says why in the log and in /healthz (503) and takes it
// once there is room; an active whose disk fills reports it in /healthz until there is room; a
// standby whose active dies while the disk is full does not take over until there is room.
#include <signal.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>

#include <doctest/doctest.h>

#include "server/monitor/status_command.h"
#include "tests/support/tandem_process.h"
#include "tests/support/temp_dir.h"

#include <sys/mount.h>
#include <sys/stat.h>

namespace tandem::test {
namespace {

using Clock = std::chrono::steady_clock;

// A tmpfs of `size` mounted on <dir>/mnt for the life of the object.
class SmallDisk {
 public:
  SmallDisk(const TempDir& dir, const char* size) : path_(dir.Join("mnt")) {
    REQUIRE(mkdir(path_.c_str(), 0755) == 0);
    std::string opts = std::string("size=") + size;
    REQUIRE_MESSAGE(mount("tmpfs", path_.c_str(), "tmpfs", 0, opts.c_str()) == 0,
                    "cannot mount a tmpfs on ", path_, ": ", strerror(errno),
                    " (this test needs root)");
    mounted_ = true;
  }
  ~SmallDisk() {
    if (mounted_) umount2(path_.c_str(), MNT_DETACH);
  }
  SmallDisk(const SmallDisk&) = delete;
  SmallDisk& operator=(const SmallDisk&) = delete;

  const std::string& path() const { return path_; }

  // Writes <path>/fill until the file system is full.
  void Fill() const {
    FILE* f = std::fopen((path_ + "/fill").c_str(), "ab");
    REQUIRE(f != nullptr);
    std::string chunk(4096, 'x');
    size_t written = 0;
    while (std::fwrite(chunk.data(), 1, chunk.size(), f) == chunk.size() && std::fflush(f) == 0 &&
           written < (64u << 20)) {
      written += chunk.size();
    }
    std::fclose(f);
  }
  void Free() const { REQUIRE(std::remove((path_ + "/fill").c_str()) == 0); }

 private:
  std::string path_;
  bool mounted_ = false;
};

int Health(int http_port, std::string* body = nullptr) {
  Result<server::HttpReply> r = server::HttpGet("127.0.0.1", http_port, "/healthz", 5000);
  if (!r.ok()) return -1;
  if (body != nullptr) *body = r->body;
  return r->status;
}

// Polls /healthz until it answers `status`; false after `timeout`.
bool WaitHealth(int http_port, int status, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (Health(http_port) == status) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

}  // namespace

TEST_CASE("disk space: no takeover onto a full disk; /healthz says why until there is room") {
  TempDir dir;
  SmallDisk disk(dir, "4m");
  const std::string store = disk.path() + "/data";
  int port = FreePort();
  int http_port = FreePort();
  const std::vector<std::string> args{"serve",
                                      "--listen",
                                      "127.0.0.1:" + std::to_string(port),
                                      "--http",
                                      "127.0.0.1:" + std::to_string(http_port),
                                      "--store",
                                      store};

  // A store made while there was room.
  {
    TandemProcess first(dir.path(), "first.log");
    REQUIRE(first.Start(args));
    REQUIRE(first.WaitForPort(port));
    CHECK(first.Signal(SIGTERM));
    REQUIRE(first.WaitExit() == 0);
  }

  disk.Fill();
  TandemProcess p(dir.path(), "tandem.log");
  REQUIRE(p.Start(args));
  REQUIRE(p.WaitForPort(http_port));
  INFO("log: ", p.Log());
  CHECK(p.WaitForLog("waiting for room", std::chrono::milliseconds(10000)));
  std::string body;
  CHECK(Health(http_port, &body) == 503);
  CHECK(body.find("free on") != std::string::npos);
  CHECK(body.find(store) != std::string::npos);
  // It does not serve clients from a store it could not write to.
  LineClient c;
  CHECK_FALSE(c.Connect(port, std::chrono::milliseconds(1000)));
  CHECK(p.Running());

  // Room again: it takes the store and serves.
  disk.Free();
  CHECK(p.WaitForPort(port, std::chrono::milliseconds(20000)));
  CHECK(WaitHealth(http_port, 200, std::chrono::milliseconds(10000)));

  // The disk of a serving active fills: /healthz reports it, then recovers with the room.
  disk.Fill();
  CHECK(WaitHealth(http_port, 503, std::chrono::milliseconds(20000)));
  CHECK(Health(http_port, &body) == 503);
  CHECK(body.find("free on") != std::string::npos);
  disk.Free();
  CHECK(WaitHealth(http_port, 200, std::chrono::milliseconds(20000)));

  CHECK(p.Signal(SIGTERM));
  CHECK(p.WaitExit() == 0);
}

TEST_CASE("disk space: a standby does not take over onto a full disk") {
  TempDir dir;
  SmallDisk disk(dir, "4m");
  const std::string store = disk.path() + "/data";
  int port = FreePort();
  int http_b = FreePort();
  auto args = [&](const std::string& name, int http_port) {
    return std::vector<std::string>{"serve",
                                    "--listen",
                                    "127.0.0.1:" + std::to_string(port),
                                    "--http",
                                    "127.0.0.1:" + std::to_string(http_port),
                                    "--store",
                                    store,
                                    "--ft-group",
                                    "g",
                                    "--ft-name",
                                    name};
  };
  TandemProcess a(dir.path(), "a.log");
  REQUIRE(a.Start(args("a", FreePort())));
  REQUIRE(a.WaitForPort(port));
  TandemProcess b(dir.path(), "b.log");
  REQUIRE(b.Start(args("b", http_b)));
  REQUIRE(a.WaitForLog("standby b joined"));

  disk.Fill();
  CHECK(a.Signal(SIGKILL));
  CHECK(a.WaitExit() == 128 + SIGKILL);
  INFO("b's log: ", b.Log());
  CHECK(b.WaitForLog("waiting for room", std::chrono::milliseconds(10000)));
  CHECK(WaitHealth(http_b, 503, std::chrono::milliseconds(10000)));
  LineClient c;
  CHECK_FALSE(c.Connect(port, std::chrono::milliseconds(1000)));
  CHECK(b.Log().find("role standby -> activating") == std::string::npos);

  disk.Free();
  CHECK(b.WaitForPort(port, std::chrono::milliseconds(20000)));
  CHECK(WaitHealth(http_b, 200, std::chrono::milliseconds(10000)));
  CHECK(b.Signal(SIGTERM));
  CHECK(b.WaitExit() == 0);
}

}  // namespace tandem::test
