// router_test.cc: routing rules with recording subscribers (no sockets): fan-out per sid, one
// queue member per group and fairness, echo off, UNSUB max, no-responders, and handlers that
// change subscriptions in the middle of a fan-out; plus Bus through NatsServer and a
// clean loop shutdown.
#include "server/nats/router.h"

#include <uv.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "server/nats/nats_server.h"

namespace tandem::server {
namespace {

class Recorder : public Subscriber {
 public:
  explicit Recorder(bool echo = true) : echo_(echo) {}
  void Deliver(Subscription& sub, const InboundMsg& msg) override {
    got.push_back(sub.sid + ":" + std::string(msg.subject) + ":" + std::string(msg.headers) +
                  std::string(msg.payload));
    if (on_deliver) on_deliver(sub);
  }
  bool echo() const override { return echo_; }
  void Forget(const Subscription& sub) override { forgotten.push_back(sub.sid); }

  SubscriptionPtr Sub(Router& r, std::string subject, std::string sid, std::string queue = "") {
    auto s =
        std::make_shared<Subscription>(this, std::move(subject), std::move(queue), std::move(sid));
    REQUIRE(r.AddSubscription(s));
    return s;
  }

  std::vector<std::string> got;
  std::vector<std::string> forgotten;
  std::function<void(Subscription&)> on_deliver;
  bool echo_;
};

InboundMsg Msg(std::string_view subject, std::string_view payload, std::string_view reply = {}) {
  return InboundMsg{subject, reply, {}, payload};
}

}  // namespace

TEST_SUITE("router") {
  TEST_CASE("router: one copy per matching sid, none without a match") {
    Router r;
    Recorder a, b;
    a.Sub(r, "foo", "1");
    a.Sub(r, "foo.>", "2");
    a.Sub(r, "*", "3");
    b.Sub(r, "foo", "7");
    CHECK(r.Route(nullptr, Msg("foo", "x")));
    CHECK(a.got == std::vector<std::string>{"1:foo:x", "3:foo:x"});
    CHECK(b.got == std::vector<std::string>{"7:foo:x"});
    CHECK_FALSE(r.Route(nullptr, Msg("bar.baz", "y")));
    CHECK(r.stats().in_msgs == 2);
    CHECK(r.stats().out_msgs == 3);
  }

  TEST_CASE("router: one member per queue group, spread over all members") {
    Router r;
    Recorder m[3];
    for (int i = 0; i < 3; ++i) m[i].Sub(r, "work", std::to_string(i), "q");
    Recorder other;
    other.Sub(r, "work", "9", "q2");
    for (int i = 0; i < 600; ++i) REQUIRE(r.Route(nullptr, Msg("work", "x")));
    size_t total = 0;
    for (auto& rec : m) {
      CHECK(rec.got.size() > 100);
      total += rec.got.size();
    }
    CHECK(total == 600);
    CHECK(other.got.size() == 600);
  }

  TEST_CASE("router: echo off skips the publisher, also inside queue groups") {
    Router r;
    Recorder quiet(/*echo=*/false), loud;
    quiet.Sub(r, "chat", "1");
    quiet.Sub(r, "chat", "2", "g");
    loud.Sub(r, "chat", "3", "g");
    for (int i = 0; i < 20; ++i) r.Route(&quiet, Msg("chat", "q"));
    CHECK(quiet.got.empty());
    CHECK(loud.got.size() == 20);  // the group still gets each message, via the other member
    CHECK_FALSE(r.Route(&quiet, Msg("nobody", "q")));
    r.Route(&loud, Msg("chat", "l"));
    CHECK(quiet.got.size() >= 1);  // sid 1, plus the group copy when the draw picks sid 2
    CHECK(quiet.got.size() + loud.got.size() == 22);
  }

  TEST_CASE("router: UNSUB max removes after the last delivery and tells the owner") {
    Router r;
    Recorder a;
    auto s = a.Sub(r, "n", "5");
    s->max = 2;
    for (int i = 0; i < 4; ++i) r.Route(nullptr, Msg("n", std::to_string(i)));
    CHECK(a.got == std::vector<std::string>{"5:n:0", "5:n:1"});
    CHECK(a.forgotten == std::vector<std::string>{"5"});
    CHECK(s->closed);
    CHECK(r.sublist().count() == 0);
  }

  TEST_CASE("router: a handler unsubscribing others and itself mid fan-out") {
    Router r;
    Recorder a;
    auto s1 = a.Sub(r, "x", "1");
    auto s2 = a.Sub(r, "x", "2");
    auto s3 = a.Sub(r, "x", "3");
    a.on_deliver = [&](Subscription& sub) {
      if (sub.sid == "1") {
        r.RemoveSubscription(s1);
        r.RemoveSubscription(s2);
        s1.reset();
        s2.reset();
        a.Sub(r, "x", "4");  // added during the fan-out: gets only later messages
      }
    };
    r.Route(nullptr, Msg("x", "a"));
    CHECK(a.got == std::vector<std::string>{"1:x:a", "3:x:a"});
    a.got.clear();
    r.Route(nullptr, Msg("x", "b"));
    CHECK(a.got == std::vector<std::string>{"3:x:b", "4:x:b"});
  }

  TEST_CASE("router: no-responders goes to the publisher's own reply subscription") {
    Router r;
    Recorder req, other;
    req.Sub(r, "_INBOX.abc.*", "1");
    other.Sub(r, "_INBOX.>", "2");
    r.SendNoResponders(&req, "_INBOX.abc.r1");
    CHECK(req.got == std::vector<std::string>{"1:_INBOX.abc.r1:NATS/1.0 503\r\n\r\n"});
    CHECK(other.got.empty());
  }

  TEST_CASE("router: internal clients share the sublist with the same rules") {
    uv_loop_t loop;
    REQUIRE(uv_loop_init(&loop) == 0);
    {
      CoreOptions opts;
      NatsServer server(&loop, opts);
      Bus* a = server.CreateInternalClient("a");
      Bus* b = server.CreateInternalClient("b");
      std::vector<std::string> got;
      uint64_t self_sid = 0;
      const uint64_t sid = a->Subscribe("svc.*", "", [&](const InboundMsg& m) {
        got.push_back(std::string(m.subject) + "|" + std::string(m.reply) + "|" +
                      std::string(m.payload));
        a->Publish(m.reply, "", "pong");  // reply from inside the handler
      });
      REQUIRE(sid > 0);
      CHECK(a->Subscribe("bad..subject", "", [](const InboundMsg&) {}) == 0);
      const std::string inbox = b->NewInbox();
      CHECK(inbox.size() == std::string("_INBOX.").size() + 22);
      CHECK(inbox != b->NewInbox());
      std::vector<std::string> replies;
      self_sid = b->Subscribe(inbox, "", [&](const InboundMsg& m) {
        replies.push_back(std::string(m.payload));
        b->Unsubscribe(self_sid);  // unsubscribing itself while running
      });
      b->Publish("svc.ping", inbox, "ping");
      b->Publish("svc.ping", inbox, "ping");
      CHECK(got ==
            std::vector<std::string>{"svc.ping|" + inbox + "|ping", "svc.ping|" + inbox + "|ping"});
      CHECK(replies == std::vector<std::string>{"pong"});
      a->Unsubscribe(sid);
      b->Publish("svc.ping", "", "x");
      CHECK(got.size() == 2);
      CHECK(server.stats().subscriptions == 0);

      bool done = false;
      server.Shutdown([&] { done = true; });
      CHECK(done);  // never listened: nothing to close
    }
    CHECK(uv_run(&loop, UV_RUN_DEFAULT) == 0);
    CHECK(uv_loop_close(&loop) == 0);
  }

  TEST_CASE("router: a listening server shuts down and leaves a closable loop") {
    uv_loop_t loop;
    REQUIRE(uv_loop_init(&loop) == 0);
    int done = 0;
    {
      CoreOptions opts;
      opts.host = "127.0.0.1";
      opts.port = 0;
      NatsServer server(&loop, opts);
      REQUIRE(server.Listen().ok());
      CHECK(server.port() > 0);
      server.Shutdown([&] { ++done; });
      uv_run(&loop, UV_RUN_DEFAULT);
      CHECK(done == 1);
    }
    CHECK(uv_loop_close(&loop) == 0);
  }
}

}  // namespace tandem::server
