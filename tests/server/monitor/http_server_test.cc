// http_server_test.cc: the monitoring HTTP server on a loopback port, driven by a raw libuv
// client on the same loop (so nothing waits on another thread), plus its pure helpers.
#include "server/monitor/http_server.h"

#include <uv.h>

#include <functional>
#include <memory>
#include <string>

#include <doctest/doctest.h>

namespace tandem::server {
namespace {

// Counts occurrences of `needle` in `hay`.
int Count(const std::string& hay, const std::string& needle) {
  int n = 0;
  for (size_t pos = hay.find(needle); pos != std::string::npos;
       pos = hay.find(needle, pos + needle.size())) {
    ++n;
  }
  return n;
}

// A raw TCP client on the test loop: connects, writes `request`, collects everything it reads
// until `enough(received)` holds (then closes itself) or the server closes (eof = true).
class RawClient {
 public:
  RawClient(uv_loop_t* loop, int port, std::string request,
            std::function<bool(const std::string&)> enough)
      : request_(std::move(request)), enough_(std::move(enough)) {
    uv_tcp_init(loop, &tcp_);
    tcp_.data = this;
    sockaddr_in addr;
    uv_ip4_addr("127.0.0.1", port, &addr);
    connect_.data = this;
    uv_tcp_connect(&connect_, &tcp_, reinterpret_cast<const sockaddr*>(&addr), ConnectCb);
  }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  std::string received;
  bool eof = false;
  bool closed = false;
  std::function<void()> on_closed;

  void Close() {
    if (closing_) return;
    closing_ = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), [](uv_handle_t* h) {
      auto* c = static_cast<RawClient*>(h->data);
      c->closed = true;
      if (c->on_closed) c->on_closed();
    });
  }

 private:
  static void ConnectCb(uv_connect_t* req, int status) {
    auto* c = static_cast<RawClient*>(req->data);
    if (status != 0) {
      c->Close();
      return;
    }
    c->buf_ = uv_buf_init(c->request_.data(), static_cast<unsigned>(c->request_.size()));
    c->write_.data = c;
    uv_write(&c->write_, reinterpret_cast<uv_stream_t*>(&c->tcp_), &c->buf_, 1,
             [](uv_write_t*, int) {});
    uv_read_start(
        reinterpret_cast<uv_stream_t*>(&c->tcp_),
        [](uv_handle_t* h, size_t, uv_buf_t* b) {
          auto* self = static_cast<RawClient*>(h->data);
          *b = uv_buf_init(self->read_buf_, sizeof(self->read_buf_));
        },
        [](uv_stream_t* s, ssize_t n, const uv_buf_t* b) {
          auto* self = static_cast<RawClient*>(s->data);
          if (n < 0) {
            self->eof = true;
            self->Close();
            return;
          }
          self->received.append(b->base, static_cast<size_t>(n));
          if (self->enough_ && self->enough_(self->received)) self->Close();
        });
  }

  uv_tcp_t tcp_;
  uv_connect_t connect_;
  uv_write_t write_;
  uv_buf_t buf_;
  char read_buf_[65536];
  std::string request_;
  std::function<bool(const std::string&)> enough_;
  bool closing_ = false;
};

// A loop with an HttpServer on a free loopback port, a guard timer that bounds every test, and
// the teardown every loop test ends with (every handle closed, uv_loop_close == 0).
struct Fixture {
  uv_loop_t loop;
  uv_timer_t guard;
  std::unique_ptr<HttpServer> server;
  bool guard_fired = false;
  bool shutdown_done = false;

  explicit Fixture(HttpServerOptions options = {}) {
    uv_loop_init(&loop);
    uv_timer_init(&loop, &guard);
    guard.data = this;
    server = std::make_unique<HttpServer>(&loop, options);
    server->Handle("/hello", [](const HttpRequest& r) {
      HttpResponse resp = HttpResponse::Text(200, "hello " + r.Param("name", "world") + "\n");
      resp.headers.emplace_back("Access-Control-Allow-Origin", "*");
      return resp;
    });
    server->Handle("/echo", [](const HttpRequest& r) {
      std::string body = r.method + " " + r.path + "\n";
      for (const auto& [k, v] : r.params) body += k + "=" + v + "\n";
      auto ua = r.headers.find("x-test");
      if (ua != r.headers.end()) body += "x-test: " + ua->second + "\n";
      return HttpResponse::Json(200, body);
    });
    server->HandlePost("/start", [](const HttpRequest& r) {
      return HttpResponse::Text(202, "started " + r.Param("to") + "\n");
    });
    server->HandlePost("/echo", [](const HttpRequest& r) {
      return HttpResponse::Text(200, "posted " + r.method + "\n");
    });
    server->Handle("/throws",
                   [](const HttpRequest&) -> HttpResponse { throw std::runtime_error("boom"); });
    REQUIRE(server->Listen("127.0.0.1", 0).ok());
    REQUIRE(server->port() > 0);
  }

  // Runs the loop until `client` is closed (bounded by a 5 s guard), then shuts everything down.
  // The loop stops in the client's close callback, before the server could see it go.
  void RunUntilClosed(RawClient& client) {
    client.on_closed = [this] { uv_stop(&loop); };
    ArmGuard();
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_FALSE(guard_fired);
    Finish(client);
  }

  // Runs the loop until `done()` holds (checked every millisecond), bounded by a 5 s guard.
  void RunUntil(const std::function<bool()>& done) {
    uv_timer_t check;
    uv_timer_init(&loop, &check);
    struct Ctx {
      const std::function<bool()>* done;
      Fixture* f;
    } ctx{&done, this};
    check.data = &ctx;
    uv_timer_start(
        &check,
        [](uv_timer_t* t) {
          auto* x = static_cast<Ctx*>(t->data);
          if ((*x->done)()) uv_stop(&x->f->loop);
        },
        1, 1);
    ArmGuard();
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_timer_stop(&guard);
    uv_close(reinterpret_cast<uv_handle_t*>(&check), nullptr);
    uv_run(&loop, UV_RUN_NOWAIT);  // runs the close of `check` before it leaves scope
    CHECK_FALSE(guard_fired);
  }

  // Stops the loop after 5 s, failing the test (guard_fired).
  void ArmGuard() {
    uv_timer_start(
        &guard,
        [](uv_timer_t* t) {
          auto* f = static_cast<Fixture*>(t->data);
          f->guard_fired = true;
          uv_stop(&f->loop);
        },
        5000, 0);
  }

  // Closes `client` and turns the loop until its close callback ran, so that it may go out of
  // scope. A loop with closing handles polls without blocking.
  void Finish(RawClient& client) {
    client.on_closed = nullptr;
    client.Close();
    for (int i = 0; i < 100 && !client.closed; ++i) uv_run(&loop, UV_RUN_NOWAIT);
    REQUIRE(client.closed);
  }

  ~Fixture() {
    server->Shutdown([this] { shutdown_done = true; });
    uv_close(reinterpret_cast<uv_handle_t*>(&guard), nullptr);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(shutdown_done);
    CHECK(server->connection_count() == 0);
    server.reset();
    CHECK(uv_loop_close(&loop) == 0);
  }
};

bool HasResponses(const std::string& s, int n) { return Count(s, "HTTP/1.1 ") >= n; }

TEST_SUITE("http_server") {
  TEST_CASE("http_server: GET routes by path and answers with headers and body") {
    Fixture f;
    RawClient c(&f.loop, f.server->port(), "GET /hello?name=tandem HTTP/1.1\r\nHost: x\r\n\r\n",
                [](const std::string& s) { return s.find("hello tandem\n") != std::string::npos; });
    f.RunUntilClosed(c);
    CHECK(c.received.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
    CHECK(c.received.find("Content-Type: text/plain; charset=utf-8\r\n") != std::string::npos);
    CHECK(c.received.find("Content-Length: 13\r\n") != std::string::npos);
    CHECK(c.received.find("Access-Control-Allow-Origin: *\r\n") != std::string::npos);
    CHECK(c.received.find("Connection: keep-alive\r\n") != std::string::npos);
    CHECK_FALSE(c.eof);  // keep-alive: the server left the connection open
  }

  TEST_CASE("http_server: HEAD gets the headers without the body") {
    Fixture f;
    RawClient c(&f.loop, f.server->port(), "HEAD /hello HTTP/1.1\r\nConnection: close\r\n\r\n",
                nullptr);
    f.RunUntilClosed(c);
    CHECK(c.eof);
    CHECK(c.received.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
    CHECK(c.received.find("Content-Length: 12\r\n") != std::string::npos);
    CHECK(c.received.find("hello") == std::string::npos);
  }

  TEST_CASE("http_server: unknown path is 404, other methods are 405 with Allow") {
    Fixture f;
    RawClient c(&f.loop, f.server->port(),
                "GET /nope HTTP/1.1\r\n\r\nDELETE /hello HTTP/1.1\r\n\r\n",
                [](const std::string& s) {
                  return HasResponses(s, 2) && s.find("allowed\n") != std::string::npos;
                });
    f.RunUntilClosed(c);
    CHECK(c.received.rfind("HTTP/1.1 404 Not Found\r\n", 0) == 0);
    CHECK(c.received.find("404 page not found\n") != std::string::npos);
    CHECK(c.received.find("HTTP/1.1 405 Method Not Allowed\r\n") != std::string::npos);
    CHECK(c.received.find("Allow: GET, HEAD\r\n") != std::string::npos);
  }

  TEST_CASE("http_server: POST reaches only HandlePost routes; Allow names what a path takes") {
    Fixture f;
    RawClient c(&f.loop, f.server->port(),
                "POST /start?to=a.db HTTP/1.1\r\nContent-Length: 0\r\n\r\n"
                "GET /start HTTP/1.1\r\n\r\n"
                "POST /hello HTTP/1.1\r\nContent-Length: 0\r\n\r\n"
                "POST /echo HTTP/1.1\r\nContent-Length: 0\r\n\r\n"
                "GET /echo HTTP/1.1\r\nConnection: close\r\n\r\n",
                [](const std::string& s) { return HasResponses(s, 5); });
    f.RunUntilClosed(c);
    const std::string& r = c.received;
    const size_t started = r.find("started a.db\n");
    const size_t get_start = r.find("Allow: POST\r\n");
    const size_t post_hello = r.find("Allow: GET, HEAD\r\n");
    const size_t posted = r.find("posted POST\n");
    const size_t got = r.find("GET /echo\n");
    CHECK(r.rfind("HTTP/1.1 202 Accepted\r\n", 0) == 0);
    REQUIRE(started != std::string::npos);
    REQUIRE(get_start != std::string::npos);
    REQUIRE(post_hello != std::string::npos);
    REQUIRE(posted != std::string::npos);
    REQUIRE(got != std::string::npos);
    CHECK(started < get_start);
    CHECK(get_start < post_hello);
    CHECK(post_hello < posted);
    CHECK(posted < got);
  }

  TEST_CASE("http_server: query and path are percent-decoded, headers lower-cased") {
    Fixture f;
    RawClient c(&f.loop, f.server->port(),
                "GET /ec%68o?channel=foo%2Ebar&subs=1&subs=2&q=a+b&flag HTTP/1.1\r\n"
                "X-Test: one\r\nx-test: two\r\nConnection: close\r\n\r\n",
                nullptr);
    f.RunUntilClosed(c);
    CHECK(c.received.find("application/json") != std::string::npos);
    CHECK(c.received.find("GET /echo\n") != std::string::npos);
    CHECK(c.received.find("channel=foo.bar\n") != std::string::npos);
    CHECK(c.received.find("subs=1\n") != std::string::npos);
    CHECK(c.received.find("subs=2\n") == std::string::npos);
    CHECK(c.received.find("q=a b\n") != std::string::npos);
    CHECK(c.received.find("flag=\n") != std::string::npos);
    CHECK(c.received.find("x-test: one, two\n") != std::string::npos);
  }

  TEST_CASE("http_server: pipelined keep-alive requests are answered in order") {
    Fixture f;
    std::string req;
    for (int i = 0; i < 5; ++i)
      req += "GET /hello?name=n" + std::to_string(i) + " HTTP/1.1\r\n\r\n";
    RawClient c(&f.loop, f.server->port(), req,
                [](const std::string& s) { return s.find("hello n4\n") != std::string::npos; });
    f.RunUntilClosed(c);
    CHECK(Count(c.received, "HTTP/1.1 200 OK") == 5);
    size_t last = 0;
    for (int i = 0; i < 5; ++i) {
      size_t pos = c.received.find("hello n" + std::to_string(i) + "\n");
      REQUIRE(pos != std::string::npos);
      CHECK(pos >= last);
      last = pos;
    }
    CHECK(f.server->requests_served() == 5);
    CHECK(f.server->connection_count() == 1);
  }

  TEST_CASE("http_server: Connection close and HTTP/1.0 close after the response") {
    std::string req;
    SUBCASE("close header") { req = "GET /hello HTTP/1.1\r\nConnection: close\r\n\r\n"; }
    SUBCASE("HTTP/1.0") { req = "GET /hello HTTP/1.0\r\n\r\n"; }
    SUBCASE("requests after close are ignored") {
      req = "GET /hello HTTP/1.1\r\nConnection: close\r\n\r\nGET /hello HTTP/1.1\r\n\r\n";
    }
    Fixture f;
    RawClient c(&f.loop, f.server->port(), req, nullptr);
    f.RunUntilClosed(c);
    CHECK(c.eof);
    CHECK(Count(c.received, "HTTP/1.1 200 OK") == 1);
    CHECK(c.received.find("Connection: close\r\n") != std::string::npos);
  }

  TEST_CASE("http_server: oversized headers and bodies get 413 and a close") {
    HttpServerOptions options;
    options.max_header_bytes = 256;
    std::string req;
    SUBCASE("long url") { req = "GET /hello?x=" + std::string(400, 'a') + " HTTP/1.1\r\n\r\n"; }
    SUBCASE("long header") {
      req = "GET /hello HTTP/1.1\r\nX-Big: " + std::string(400, 'b') + "\r\n\r\n";
    }
    SUBCASE("many headers") {
      req = "GET /hello HTTP/1.1\r\n";
      for (int i = 0; i < 100; ++i) req += "A: b\r\n";
      req += "\r\n";
    }
    SUBCASE("content-length body") {
      req = "GET /hello HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello";
    }
    SUBCASE("chunked body") {
      req = "GET /hello HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
    }
    Fixture f(options);
    RawClient c(&f.loop, f.server->port(), req, nullptr);
    f.RunUntilClosed(c);
    CHECK(c.eof);
    CHECK(c.received.rfind("HTTP/1.1 413 Payload Too Large\r\n", 0) == 0);
    CHECK(c.received.find("Connection: close\r\n") != std::string::npos);
  }

  TEST_CASE("http_server: malformed requests get 400 and a close") {
    std::string req;
    SUBCASE("garbage") { req = "\x01\x02 hello\r\n\r\n"; }
    SUBCASE("bad version") { req = "GET / HTTP/x.y\r\n\r\n"; }
    SUBCASE("bad header line") { req = "GET /hello HTTP/1.1\r\nNoColon\r\n\r\n"; }
    SUBCASE("after a good request") { req = "GET /hello HTTP/1.1\r\n\r\nGARBAGE\r\n\r\n"; }
    Fixture f;
    RawClient c(&f.loop, f.server->port(), req, nullptr);
    f.RunUntilClosed(c);
    CHECK(c.eof);
    CHECK(c.received.find("HTTP/1.1 400 Bad Request\r\n") != std::string::npos);
  }

  TEST_CASE("http_server: a throwing handler becomes a 500") {
    Fixture f;
    RawClient c(&f.loop, f.server->port(), "GET /throws HTTP/1.1\r\nConnection: close\r\n\r\n",
                nullptr);
    f.RunUntilClosed(c);
    CHECK(c.received.rfind("HTTP/1.1 500 Internal Server Error\r\n", 0) == 0);
    CHECK(c.received.find("boom") != std::string::npos);
  }

  TEST_CASE("http_server: a partial request is closed by the header timer") {
    HttpServerOptions options;
    options.header_timeout_ms = 1;
    Fixture f(options);
    RawClient c(&f.loop, f.server->port(), "GET /hel", nullptr);
    f.RunUntilClosed(c);
    CHECK(c.eof);
    CHECK(c.received.empty());
  }

  TEST_CASE("http_server: the header timeout ends unfinished requests, not idle keep-alive") {
    HttpServerOptions options;
    options.header_timeout_ms = 50;
    options.idle_timeout_ms = 60000;
    Fixture f(options);
    // Answered, then idle between requests: the long idle timeout applies.
    RawClient idle(&f.loop, f.server->port(), "GET /hello HTTP/1.1\r\n\r\n", nullptr);
    // Answered, then the next request stalls half-way: the header timeout applies again.
    RawClient next(&f.loop, f.server->port(), "GET /hello HTTP/1.1\r\n\r\nGET /hel", nullptr);
    // Sends nothing at all.
    RawClient silent(&f.loop, f.server->port(), "", nullptr);
    f.RunUntil([&] { return next.closed && silent.closed && !idle.received.empty(); });
    CHECK(next.eof);
    CHECK(Count(next.received, "HTTP/1.1 200 OK") == 1);
    CHECK(silent.eof);
    CHECK(silent.received.empty());
    CHECK_FALSE(idle.eof);
    CHECK(f.server->connection_count() == 1);
    f.Finish(idle);
  }

  TEST_CASE("http_server: a newcomer over a limit evicts the oldest unfinished request") {
    HttpServerOptions options;
    SUBCASE("global limit") { options.max_connections = 2; }
    SUBCASE("per-peer limit") { options.max_connections_per_peer = 2; }
    Fixture f(options);
    // Two slow clients, accepted in this order, then a probe from the same address.
    RawClient first(&f.loop, f.server->port(), "GET /hello HTTP/1.1\r\nHost: x\r\n", nullptr);
    f.RunUntil([&] { return f.server->connection_count() == 1; });
    RawClient second(&f.loop, f.server->port(), "GET /hello HTTP/1.1\r\nHost: x\r\n", nullptr);
    f.RunUntil([&] { return f.server->connection_count() == 2; });
    RawClient probe(&f.loop, f.server->port(), "GET /hello HTTP/1.1\r\nConnection: close\r\n\r\n",
                    nullptr);
    f.RunUntil([&] { return probe.closed && first.closed; });
    CHECK(probe.received.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
    CHECK(first.eof);
    CHECK(first.received.empty());
    CHECK_FALSE(second.eof);
    CHECK(f.server->connection_count() == 1);
    f.Finish(second);
  }

  TEST_CASE("http_server: with no unfinished request, the longest-idle keep-alive one goes") {
    HttpServerOptions options;
    options.max_connections = 2;
    Fixture f(options);
    auto answered = [](const RawClient& c) { return !c.received.empty(); };
    RawClient first(&f.loop, f.server->port(), "GET /hello HTTP/1.1\r\n\r\n", nullptr);
    f.RunUntil([&] { return answered(first); });
    RawClient second(&f.loop, f.server->port(), "GET /hello HTTP/1.1\r\n\r\n", nullptr);
    f.RunUntil([&] { return answered(second); });
    RawClient probe(&f.loop, f.server->port(), "GET /hello HTTP/1.1\r\nConnection: close\r\n\r\n",
                    nullptr);
    f.RunUntil([&] { return probe.closed && first.closed; });
    CHECK(probe.received.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
    CHECK(first.eof);
    CHECK_FALSE(second.eof);
    f.Finish(second);
  }

  TEST_CASE("http_server: Shutdown closes idle keep-alive connections") {
    Fixture f;
    RawClient c(&f.loop, f.server->port(), "GET /hello HTTP/1.1\r\n\r\n",
                [](const std::string& s) { return false; });
    bool answered = false;
    uv_timer_t poll;
    uv_timer_init(&f.loop, &poll);
    struct Ctx {
      RawClient* c;
      Fixture* f;
      bool* answered;
    } ctx{&c, &f, &answered};
    poll.data = &ctx;
    uv_timer_start(
        &poll,
        [](uv_timer_t* t) {
          auto* x = static_cast<Ctx*>(t->data);
          if (x->c->received.find("hello world\n") == std::string::npos) return;
          *x->answered = true;
          uv_timer_stop(t);
          CHECK(x->f->server->connection_count() == 1);
          x->f->server->Shutdown([x] { x->f->shutdown_done = true; });
        },
        1, 1);
    f.RunUntilClosed(c);  // the server's close reaches the client as EOF
    uv_close(reinterpret_cast<uv_handle_t*>(&poll), nullptr);
    uv_run(&f.loop, UV_RUN_NOWAIT);  // runs the close of `poll` before it leaves scope
    CHECK(answered);
    CHECK(c.eof);
  }

  TEST_CASE("http_server: Listen rejects a bad host and a busy port") {
    uv_loop_t loop;
    uv_loop_init(&loop);
    {
      HttpServer a(&loop);
      Status s = a.Listen("not-an-ip", 0);
      CHECK(s.IsInvalidArgument());
      bool done = false;
      a.Shutdown([&] { done = true; });
      CHECK(done);
    }
    {
      HttpServer a(&loop), b(&loop);
      REQUIRE(a.Listen("127.0.0.1", 0).ok());
      Status s = b.Listen("127.0.0.1", a.port());
      CHECK(s.IsIOError());
      CHECK(s.message().find("127.0.0.1:" + std::to_string(a.port())) != std::string::npos);
      int done = 0;
      a.Shutdown([&] { ++done; });
      b.Shutdown([&] { ++done; });
      uv_run(&loop, UV_RUN_DEFAULT);
      CHECK(done == 2);
    }
    CHECK(uv_loop_close(&loop) == 0);
  }

  TEST_CASE("http_server: query and percent decoding helpers") {
    CHECK(HttpServer::PercentDecode("a%20b%2fc", false) == "a b/c");
    CHECK(HttpServer::PercentDecode("a+b", false) == "a+b");
    CHECK(HttpServer::PercentDecode("a+b", true) == "a b");
    CHECK(HttpServer::PercentDecode("bad%zz%4", false) == "bad%zz%4");
    CHECK(HttpServer::PercentDecode("%", false) == "%");
    auto q = HttpServer::ParseQuery("offset=2&limit=&&subs=1&subs=0&x%3Dy=a%26b");
    CHECK(q.size() == 4);
    CHECK(q["offset"] == "2");
    CHECK(q["limit"] == "");
    CHECK(q["subs"] == "1");
    CHECK(q["x=y"] == "a&b");
    CHECK(HttpServer::ParseQuery("").empty());
    CHECK(std::string(HttpServer::ReasonPhrase(204)) == "No Content");
    CHECK(std::string(HttpServer::ReasonPhrase(202)) == "Accepted");  // POST /backup
    CHECK(std::string(HttpServer::ReasonPhrase(403)) == "Forbidden");
    CHECK(std::string(HttpServer::ReasonPhrase(409)) == "Conflict");
  }

}  // TEST_SUITE
}  // namespace
}  // namespace tandem::server
