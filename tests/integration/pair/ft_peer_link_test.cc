// ft_peer_link_test.cc: server/pair/ft_peer_link (the loop-native NATS client of the ft
// heartbeats) against real servers: Debian's nats-server and the tandem binary, each killed
// with SIGKILL and restarted on the same port, a nats-server stopped with SIGSTOP, a listener
// that never says INFO, and a fake server in this process that checks the bytes of the
// handshake.
//
// The PeerLink runs on a libuv loop on the test's thread; Pump() runs that loop in short steps
// until a condition holds, bounded in time. Every test ends by closing the link and checking
// that the loop closes with no handle left.
#include "server/pair/ft_peer_link.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>
#include <uv.h>

#include <chrono>
#include <functional>
#include <memory>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include "tests/support/tandem_process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/wire_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>

namespace tandem::test {
namespace {

using server::PeerLink;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

// Not a heartbeat subject: tandem reserves those for members (ft_heartbeat_guard_test), and
// this test is about the link as a NATS client, against nats-server and tandem alike.
constexpr const char* kSubject = "peerlink.test.g";

std::string Addr(int port) { return "127.0.0.1:" + std::to_string(port); }

// Debian's nats-server as a child process (stdout and stderr to a log in `dir`).
class NatsServerProcess {
 public:
  NatsServerProcess(std::string dir, int port, std::string host = "127.0.0.1")
      : log_(std::move(dir) + "/nats-server.log"), port_(port), host_(std::move(host)) {}
  ~NatsServerProcess() { Kill(); }

  bool Start() {
    std::string port = std::to_string(port_);
    std::vector<std::string> args = {"nats-server", "-a", host_, "-p", port};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const char* log = log_.c_str();
    pid_ = fork();
    if (pid_ < 0) return false;
    if (pid_ == 0) {
      setpgid(0, 0);
      int out = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (out < 0) _exit(126);
      dup2(out, 1);
      dup2(out, 2);
      execvp("nats-server", argv.data());
      _exit(127);
    }
    return true;
  }
  // True once the server answers a client with INFO (on IPv4 loopback only).
  bool WaitReady() {
    WireClient c;
    return c.Connect(port_, milliseconds(10000)) && c.Expect("^INFO ", milliseconds(5000));
  }
  void Signal(int sig) {
    if (pid_ > 0) kill(pid_, sig);
  }
  void Kill() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

 private:
  const std::string log_;
  const int port_;
  const std::string host_;
  pid_t pid_ = -1;
};

// A loop on this thread with one PeerLink and counters for its handlers.
class LinkHarness {
 public:
  explicit LinkHarness(PeerLink::Options o) {
    REQUIRE(uv_loop_init(&loop_) == 0);
    uv_timer_init(&loop_, &tick_);
    uv_timer_start(
        &tick_, [](uv_timer_t*) noexcept {}, 2, 2);  // UV_RUN_ONCE returns often
    o.subject = o.subject.empty() ? kSubject : o.subject;
    if (o.name.empty()) o.name = "peer-link-test";
    PeerLink::Handlers h;
    h.on_heartbeat = [this](std::string p) { heartbeats.push_back(std::move(p)); };
    h.on_connected = [this](const std::string& url) {
      ++connects;
      last_url = url;
    };
    h.on_disconnected = [this] { ++disconnects; };
    link = std::make_unique<PeerLink>(&loop_, std::move(o), std::move(h));
  }
  ~LinkHarness() { Finish(); }

  // Runs the loop until `done()` or the timeout; returns done().
  bool Pump(const std::function<bool()>& done, milliseconds timeout = milliseconds(10000)) {
    auto deadline = Clock::now() + timeout;
    while (!done()) {
      if (Clock::now() > deadline) return false;
      uv_run(&loop_, UV_RUN_ONCE);
    }
    return true;
  }
  void RunFor(milliseconds d) {
    Pump([] { return false; }, d);
  }
  bool HeardAll(const std::string& payload) {
    for (const auto& h : heartbeats) {
      if (h == payload) return true;
    }
    return false;
  }

  // Closes the link, runs the loop dry and checks that nothing is left.
  void Finish() {
    if (finished_) return;
    finished_ = true;
    bool done = false;
    link->Close([&done] { done = true; });
    CHECK_FALSE(done);  // never inside Close()
    uv_close(reinterpret_cast<uv_handle_t*>(&tick_), nullptr);
    for (int i = 0; i < 1000 && uv_run(&loop_, UV_RUN_ONCE) != 0; ++i) {
    }
    CHECK(done);
    link.reset();
    CHECK(uv_loop_close(&loop_) == 0);
  }

  std::unique_ptr<PeerLink> link;
  std::vector<std::string> heartbeats;
  int connects = 0;
  int disconnects = 0;
  std::string last_url;

 private:
  uv_loop_t loop_{};
  uv_timer_t tick_{};
  bool finished_ = false;
};

PeerLink::Options LinkTo(std::vector<std::string> servers) {
  PeerLink::Options o;
  o.servers = std::move(servers);
  o.reconnect_wait_ms = 20;
  o.connect_timeout_ms = 300;
  return o;
}

// The checks shared by the nats-server and tandem cases: heartbeats both ways, then a SIGKILL
// and a restart of the server on the same port, after which they flow again.
template <typename Server>
void CheckLinkSurvivesRestart(Server& srv, int port) {
  LinkHarness h(LinkTo({Addr(port)}));
  h.link->Start();
  REQUIRE(h.Pump([&] { return h.connects == 1; }));
  CHECK(h.link->connected());
  CHECK(h.last_url == "nats://" + Addr(port));

  // Echo is on: the link hears its own heartbeats. Another client hears them, and is heard.
  h.link->Publish("hb-1");
  CHECK(h.Pump([&] { return h.HeardAll("hb-1"); }));
  WireClient other;  // by hand: nats-server ends its INFO with "} \r\n", which Handshake() refuses
  REQUIRE(other.Connect(port));
  REQUIRE(other.Expect("^INFO .*\r\n"));
  REQUIRE(other.Send(std::string("CONNECT {\"verbose\":false}\r\nSUB ") + kSubject + " 7\r\nPUB " +
                     kSubject + " 5\r\nhello\r\nPING\r\n"));
  REQUIRE(other.Expect("PONG\r\n"));
  CHECK(h.Pump([&] { return h.HeardAll("hello"); }));
  h.link->Publish("hb-2");
  h.RunFor(milliseconds(50));
  CHECK(other.Expect(std::string("MSG ") + kSubject + " 7 4\r\nhb-2\r\n"));

  srv.Kill();
  REQUIRE(h.Pump([&] { return h.disconnects == 1; }));
  CHECK_FALSE(h.link->connected());
  h.link->Publish("dropped");   // not connected: dropped, no crash
  h.RunFor(milliseconds(100));  // a few failed attempts against the closed port
  CHECK(h.connects == 1);

  REQUIRE(srv.Start());
  REQUIRE(h.Pump([&] { return h.connects == 2; }, milliseconds(15000)));
  CHECK(h.disconnects == 1);
  CHECK(h.link->TEST_attempts() >= 3);
  h.link->Publish("hb-3");
  CHECK(h.Pump([&] { return h.HeardAll("hb-3"); }));
  CHECK_FALSE(h.HeardAll("dropped"));
}

// A listening socket on 127.0.0.1 that this test drives by hand (non-blocking).
class RawListener {
 public:
  RawListener() {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(listen(fd_, 16) == 0);
    socklen_t len = sizeof a;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
  }
  ~RawListener() {
    if (conn_ >= 0) close(conn_);
    close(fd_);
  }
  int port() const { return port_; }
  // One non-blocking accept; replaces the current connection.
  bool TryAccept() {
    int c = accept4(fd_, nullptr, nullptr, SOCK_NONBLOCK);
    if (c < 0) return false;
    if (conn_ >= 0) close(conn_);
    conn_ = c;
    in_.clear();
    eof_ = false;
    return true;
  }
  void Send(const std::string& s) {
    REQUIRE(write(conn_, s.data(), s.size()) == ssize_t(s.size()));
  }
  // Reads what is there; true once `in_` contains `needle`.
  bool Has(const std::string& needle) {
    Read();
    return in_.find(needle) != std::string::npos;
  }
  bool Closed() {
    Read();
    return eof_;
  }
  std::string& in() { return in_; }
  void CloseConn() {
    close(conn_);
    conn_ = -1;
  }

 private:
  void Read() {
    char buf[4096];
    for (;;) {
      ssize_t n = read(conn_, buf, sizeof buf);
      if (n > 0) {
        in_.append(buf, static_cast<size_t>(n));
      } else {
        if (n == 0) eof_ = true;
        return;
      }
    }
  }
  int fd_ = -1;
  int conn_ = -1;
  int port_ = 0;
  std::string in_;
  bool eof_ = false;
};

}  // namespace

TEST_SUITE("ft_peer_link") {
  TEST_CASE("peer_link: nats-server killed with SIGKILL and restarted: the link reconnects") {
    TempDir dir;
    int port = FreePort();
    NatsServerProcess srv(dir.path(), port);
    REQUIRE(srv.Start());
    REQUIRE(srv.WaitReady());
    CheckLinkSurvivesRestart(srv, port);
  }

  TEST_CASE("peer_link: tandem killed with SIGKILL and restarted: the link reconnects") {
    TempDir dir;
    int port = FreePort();
    struct TandemServer {
      TempDir* dir;
      int port;
      std::unique_ptr<TandemProcess> p;
      bool Start() {
        p = std::make_unique<TandemProcess>(dir->path(), "tandem.log");
        return p->Start({"serve", "--listen", Addr(port), "--store", dir->Join("s.db")}) &&
               p->WaitForPort(port);
      }
      void Kill() {
        p->Signal(SIGKILL);
        p->WaitExit();
      }
    } srv{&dir, port, nullptr};
    REQUIRE(srv.Start());
    CheckLinkSurvivesRestart(srv, port);
  }

  TEST_CASE("peer_link: servers are tried in order; names and IPv6 literals resolve") {
    TempDir dir;
    int dead = FreePort();
    int port = FreePort();
    NatsServerProcess srv(dir.path(), port);
    REQUIRE(srv.Start());
    REQUIRE(srv.WaitReady());
    {
      LinkHarness h(LinkTo({Addr(dead), "localhost:" + std::to_string(port)}));
      h.link->Start();
      REQUIRE(h.Pump([&] { return h.connects == 1; }));
      CHECK(h.last_url == "nats://localhost:" + std::to_string(port));
      CHECK(h.link->TEST_attempts() == 2);
    }
    int port6 = FreePort();
    NatsServerProcess srv6(dir.path(), port6, "::1");
    REQUIRE(srv6.Start());
    LinkHarness h(LinkTo({"[::1]:" + std::to_string(port6)}));
    h.link->Start();
    REQUIRE(h.Pump([&] { return h.connects == 1; }, milliseconds(15000)));
    CHECK(h.last_url == "nats://[::1]:" + std::to_string(port6));
    h.link->Publish("v6");
    CHECK(h.Pump([&] { return h.HeardAll("v6"); }));
  }

  TEST_CASE("peer_link: a SIGSTOPped server is dropped after two unanswered PINGs") {
    TempDir dir;
    int port = FreePort();
    NatsServerProcess srv(dir.path(), port);
    REQUIRE(srv.Start());
    REQUIRE(srv.WaitReady());
    PeerLink::Options o = LinkTo({Addr(port)});
    o.ping_interval_ms = 100;
    LinkHarness h(std::move(o));
    h.link->Start();
    REQUIRE(h.Pump([&] { return h.connects == 1; }));
    h.RunFor(milliseconds(400));  // pings answered: still up
    CHECK(h.disconnects == 0);

    srv.Signal(SIGSTOP);
    auto stopped = Clock::now();
    REQUIRE(h.Pump([&] { return h.disconnects == 1; }, milliseconds(5000)));
    auto took = std::chrono::duration_cast<milliseconds>(Clock::now() - stopped).count();
    CHECK(took >= 150);
    CHECK(took <= 1500);
    h.RunFor(milliseconds(700));  // attempts time out: TCP is accepted, INFO never comes
    CHECK(h.connects == 1);
    srv.Signal(SIGCONT);
    CHECK(h.Pump([&] { return h.connects == 2; }, milliseconds(10000)));
  }

  TEST_CASE("peer_link: the handshake, server ops and drops, on the wire") {
    RawListener srv;
    PeerLink::Options o = LinkTo({Addr(srv.port())});
    o.name = "we\"ird";
    o.ping_interval_ms = 0;  // no pings of our own for now
    LinkHarness h(std::move(o));
    h.link->Start();
    REQUIRE(h.Pump([&] { return srv.TryAccept(); }));
    h.RunFor(milliseconds(20));
    CHECK(srv.in().empty());  // nothing before INFO
    srv.Send("INFO {\"server_id\":\"fake\",\"max_payload\":1048576}\r\n");
    REQUIRE(h.Pump([&] { return srv.Has("PING\r\n"); }));
    CHECK(std::regex_match(
        srv.in(),
        std::regex("CONNECT \\{\"verbose\":false,\"pedantic\":false,\"name\":\"we\\\\\"ird\","
                   "\"lang\":\"C\\+\\+\",\"version\":\"[0-9.]+\",\"protocol\":1,"
                   "\"echo\":true\\}\r\nSUB peerlink\\.test\\.g 1\r\nPING\r\n")));
    srv.in().clear();
    CHECK_FALSE(h.link->connected());
    h.link->Publish("early");  // not connected yet: dropped

    srv.Send("PING\r\n");  // answered at once, even before our PONG came
    REQUIRE(h.Pump([&] { return srv.Has("PONG\r\n"); }));
    CHECK(h.connects == 0);
    srv.Send("+OK\r\nPONG\r\n");
    REQUIRE(h.Pump([&] { return h.connects == 1; }));
    CHECK(srv.in() == "PONG\r\n");

    srv.Send(
        "MSG peerlink.test.g 1 2\r\nhb\r\nHMSG peerlink.test.g 1 12 14\r\nNATS/1.0\r\n\r\nh2\r\n"
        "INFO {\"server_id\":\"fake\"}\r\n");
    REQUIRE(h.Pump([&] { return h.heartbeats.size() == 2; }));
    CHECK(h.heartbeats == std::vector<std::string>{"hb", "h2"});
    srv.in().clear();
    h.link->Publish("xyz");
    REQUIRE(h.Pump([&] { return srv.Has("PUB peerlink.test.g 3\r\nxyz\r\n"); }));
    CHECK(srv.in() == "PUB peerlink.test.g 3\r\nxyz\r\n");

    SUBCASE("-ERR drops the link, which comes back") { srv.Send("-ERR 'Stale Connection'\r\n"); }
    SUBCASE("bad bytes drop the link, which comes back") {
      srv.Send("MSG peerlink.test.g 1 2\r\nhbXY");
    }
    SUBCASE("EOF drops the link, which comes back") { srv.CloseConn(); }
    REQUIRE(h.Pump([&] { return h.disconnects == 1; }));
    CHECK_FALSE(h.link->connected());
    REQUIRE(h.Pump([&] { return srv.TryAccept(); }));
    srv.Send("INFO {}\r\n");
    REQUIRE(h.Pump([&] { return srv.Has("PING\r\n"); }));
    srv.Send("PONG\r\n");
    REQUIRE(h.Pump([&] { return h.connects == 2; }));
  }

  TEST_CASE("peer_link: unanswered PINGs drop the link; a silent listener times out") {
    RawListener srv;
    PeerLink::Options o = LinkTo({Addr(srv.port())});
    o.ping_interval_ms = 50;
    o.connect_timeout_ms = 100;
    LinkHarness h(std::move(o));
    h.link->Start();
    REQUIRE(h.Pump([&] { return srv.TryAccept(); }));
    srv.Send("INFO {}\r\n");
    REQUIRE(h.Pump([&] { return srv.Has("PING\r\n"); }));
    srv.Send("PONG\r\n");
    REQUIRE(h.Pump([&] { return h.connects == 1; }));
    srv.in().clear();
    // Two PINGs go out unanswered, then the link gives up.
    REQUIRE(h.Pump([&] { return h.disconnects == 1; }, milliseconds(3000)));
    CHECK(srv.Has("PING\r\nPING\r\n"));
    CHECK(srv.Closed());

    // The listener accepts (the kernel does) but never says INFO: every attempt times out.
    uint64_t before = h.link->TEST_attempts();
    h.RunFor(milliseconds(600));
    CHECK(h.link->TEST_attempts() >= before + 3);
    CHECK(h.connects == 1);
  }

  TEST_CASE("peer_link: Close before Start, right after Start and while waiting") {
    int dead = FreePort();
    { LinkHarness h(LinkTo({Addr(dead)})); }
    {
      LinkHarness h(LinkTo({Addr(dead)}));
      h.link->Start();  // connecting to a literal
    }
    {
      LinkHarness h(LinkTo({"localhost:" + std::to_string(dead)}));
      h.link->Start();  // resolving through uv_getaddrinfo: cancelled or awaited
    }
    {
      LinkHarness h(LinkTo({Addr(dead), "localhost:" + std::to_string(dead)}));
      h.link->Start();
      h.RunFor(milliseconds(100));
      CHECK(h.link->TEST_attempts() >= 2);
      CHECK(h.connects == 0);
    }
    {
      PeerLink::Options o = LinkTo({Addr(dead)});
      o.servers.push_back("not-an-address");
      LinkHarness h(std::move(o));
      h.link->Start();
      h.RunFor(milliseconds(60));
      CHECK(h.connects == 0);
    }
  }

}  // TEST_SUITE

}  // namespace tandem::test
