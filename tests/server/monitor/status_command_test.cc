// status_command_test.cc: `tandem status`: the bounded HTTP GET against a canned one-shot
// server, refused and silent peers, and the screen and exit decision from canned answers.
#include "server/monitor/status_command.h"

#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

namespace tandem::server {
namespace {

using nlohmann::json;

// A loopback listening socket on a free port. With `reply` set, a thread accepts one
// connection, reads the request head and answers with `reply`; otherwise nobody ever accepts.
class OneShotServer {
 public:
  explicit OneShotServer(std::string reply = {}) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
    REQUIRE(listen(fd_, 4) == 0);
    socklen_t len = sizeof(addr);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    if (reply.empty()) return;
    thread_ = std::thread([this, reply] {
      int c = accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      char buf[4096];
      std::string in;
      while (in.find("\r\n\r\n") == std::string::npos) {
        ssize_t n = recv(c, buf, sizeof(buf), 0);
        if (n <= 0) break;
        in.append(buf, static_cast<size_t>(n));
      }
      request = in;
      send(c, reply.data(), reply.size(), MSG_NOSIGNAL);
      close(c);
    });
  }
  ~OneShotServer() {
    if (thread_.joinable()) thread_.join();
    close(fd_);
  }
  int port() const { return port_; }
  std::string request;  // valid after the thread joined

  void Join() {
    if (thread_.joinable()) thread_.join();
  }

 private:
  int fd_ = -1;
  int port_ = 0;
  std::thread thread_;
};

InstanceReport Active() {
  InstanceReport r;
  r.address = "127.0.0.1:8222";
  r.serverz = json::parse(R"({"state":"FT_ACTIVE","role":"active","epoch":4,"uptime":"5m3s",
      "clients":1,"channels":2,"total_msgs":12,"name":"a","takeovers":1,
      "standbys":[{"name":"b","role":"standby","epoch":4,"heartbeat_age_ms":35,"alive":true}]})");
  r.channelsz = json::parse(R"({"channels":[
      {"name":"orders","msgs":10,"bytes":900,"first_seq":1,"last_seq":10,"subs_count":1,
       "subscriptions":[{"pending_count":3,"is_stalled":true}]},
      {"name":"audit","msgs":2,"bytes":80,"first_seq":5,"last_seq":6,"subs_count":0}]})");
  r.clientsz = json::parse(R"({"clients":[{"id":"worker-1","subs_count":1}]})");
  return r;
}

InstanceReport Standby() {
  InstanceReport r;
  r.address = "127.0.0.1:8223";
  r.serverz = json::parse(R"({"state":"FT_STANDBY","role":"standby","epoch":4,"uptime":"5m1s",
      "clients":0,"channels":0,"total_msgs":0,"name":"b"})");
  return r;
}

TEST_SUITE("status_command") {
  TEST_CASE("status: addresses with and without a scheme") {
    auto plain = ParseStatusTarget("10.0.0.1:8222");
    REQUIRE(plain.ok());
    CHECK_FALSE(plain->https);
    CHECK(plain->host == "10.0.0.1");
    CHECK(plain->port == 8222);
    auto http = ParseStatusTarget("http://0.0.0.0:8222/");
    REQUIRE(http.ok());
    CHECK_FALSE(http->https);
    CHECK(http->host == "127.0.0.1");  // a wildcard bind is asked on the loopback
    auto https = ParseStatusTarget("https://[::1]:8443");
    REQUIRE(https.ok());
    CHECK(https->https);
    CHECK(https->port == 8443);
    CHECK_FALSE(ParseStatusTarget("https://nowhere").ok());
    CHECK_FALSE(ParseStatusTarget("ftp://h:1").ok());
  }

  TEST_CASE("status: HttpGet sends a GET with Connection close and parses the reply") {
    OneShotServer server(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        "Content-Length: 11\r\nConnection: close\r\n\r\n{\"a\": true}");
    Result<HttpReply> reply = HttpGet("127.0.0.1", server.port(), "/streaming/serverz", 2000);
    server.Join();
    REQUIRE(reply.ok());
    CHECK(reply->status == 200);
    CHECK(reply->body == "{\"a\": true}");
    CHECK(server.request.rfind("GET /streaming/serverz HTTP/1.1\r\n", 0) == 0);
    CHECK(server.request.find("Connection: close\r\n") != std::string::npos);
  }

  TEST_CASE("status: HttpGet reports a refused connection, silence and non-HTTP") {
    int closed_port;
    {
      OneShotServer gone;
      closed_port = gone.port();
    }
    Result<HttpReply> refused = HttpGet("127.0.0.1", closed_port, "/", 1000);
    CHECK(refused.status().IsIOError());

    OneShotServer silent;  // listens, never answers
    auto t0 = std::chrono::steady_clock::now();
    Result<HttpReply> slow = HttpGet("127.0.0.1", silent.port(), "/", 50);
    auto took = std::chrono::steady_clock::now() - t0;
    CHECK(slow.status().IsTimedOut());
    CHECK(took < std::chrono::seconds(2));

    OneShotServer junk("SSH-2.0-OpenSSH\r\n\r\n");
    Result<HttpReply> bad = HttpGet("127.0.0.1", junk.port(), "/", 1000);
    CHECK(bad.status().IsCorruption());
  }

  TEST_CASE("status: the screen shows every instance, the active's standbys, channels, clients") {
    InstanceReport down;
    down.address = "127.0.0.1:8224";
    down.error = "IO error: GET 127.0.0.1:8224/streaming/serverz: Connection refused";
    std::vector<InstanceReport> reports{Active(), Standby(), down};
    std::string s = FormatStatus(reports);
    CHECK(s.find("INSTANCE") == 0);
    CHECK(s.find("127.0.0.1:8222         FT_ACTIVE   active") != std::string::npos);
    CHECK(s.find("127.0.0.1:8223         FT_STANDBY  standby") != std::string::npos);
    CHECK(s.find("127.0.0.1:8224         UNREACHABLE  IO error") != std::string::npos);
    CHECK(s.find("Active: a at 127.0.0.1:8222, epoch 4, up 5m3s, 1 takeover(s)") !=
          std::string::npos);
    CHECK(s.find("Standby: b (epoch 4, heartbeat 35ms ago)") != std::string::npos);
    CHECK(s.find("orders") != std::string::npos);
    CHECK(s.find("(1 stalled)") != std::string::npos);
    CHECK(s.find("worker-1") != std::string::npos);
    CHECK(s.find("No active instance") == std::string::npos);
    CHECK(IsActive(reports[0]));
    CHECK_FALSE(IsActive(reports[1]));
    CHECK_FALSE(IsActive(reports[2]));
  }

  TEST_CASE("status: without an active the screen says so and RunStatus exits 1") {
    std::string s = FormatStatus({Standby()});
    CHECK(s.find("No active instance found.") != std::string::npos);
    int closed_port;
    {
      OneShotServer gone;
      closed_port = gone.port();
    }
    StatusOptions options;
    options.http = {"127.0.0.1:" + std::to_string(closed_port), "nonsense"};
    options.timeout_ms = 500;
    std::FILE* out = std::tmpfile();
    REQUIRE(out != nullptr);
    CHECK(RunStatus(options, out) == 1);
    std::fclose(out);
    auto reports = CollectStatus(options);
    REQUIRE(reports.size() == 2);
    CHECK_FALSE(reports[0].error.empty());
    CHECK_FALSE(reports[1].error.empty());
  }

  TEST_CASE("status: two actives are flagged") {
    InstanceReport other = Active();
    other.address = "127.0.0.1:8223";
    std::string s = FormatStatus({Active(), other});
    CHECK(s.find("WARNING: more than one instance reports itself active.") != std::string::npos);
  }

}  // TEST_SUITE
}  // namespace
}  // namespace tandem::server
