// sub_reaper_test.cc: the sliced removal of a closed subscriber's subscriptions, with a fake
// subscriber on a real Router and uv loop (no sockets): a retired owner's subscriptions receive
// nothing and never take a queue group's message while they are still being removed, each slice
// removes a bounded part, a drained owner is destroyed, and the reaper closes cleanly.
#include "server/nats/sub_reaper.h"

#include <uv.h>

#include <memory>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "server/nats/router.h"

namespace tandem::server {
namespace {

// A subscriber with many subscriptions that can be closed (retired) and drained like a
// ClientConn; counts what it receives and reports its destruction.
class FakeOwner final : public Subscriber, public Reapable {
 public:
  FakeOwner(Router* router, bool* destroyed) : router_(router), destroyed_(destroyed) {}
  ~FakeOwner() override { *destroyed_ = true; }

  void Subscribe(const std::string& subject, const std::string& queue = "") {
    auto s = std::make_shared<Subscription>(this, subject, queue, std::to_string(subs_.size()));
    REQUIRE(router_->AddSubscription(s));
    subs_.push_back(std::move(s));
  }
  void CloseNow() { Retire(); }

  void Deliver(Subscription&, const InboundMsg&) override { ++received; }
  bool echo() const override { return true; }
  void Forget(const Subscription&) override {}
  size_t RemoveSubscriptions(size_t max) override {
    size_t n = 0;
    for (; n < max && !subs_.empty(); ++n) {
      router_->RemoveSubscription(subs_.back());
      subs_.pop_back();
    }
    return n;
  }

  int received = 0;

 private:
  Router* const router_;
  bool* const destroyed_;
  std::vector<SubscriptionPtr> subs_;
};

InboundMsg Msg(std::string_view subject) { return InboundMsg{subject, {}, {}, "x"}; }

constexpr int kSubs = 10000;

}  // namespace

TEST_SUITE("sub_reaper") {
  TEST_CASE("sub_reaper: a retired owner receives nothing while its subscriptions are removed") {
    uv_loop_t loop;
    REQUIRE(uv_loop_init(&loop) == 0);
    Router router;
    bool dead_destroyed = false, live_destroyed = false;
    auto dead = std::make_unique<FakeOwner>(&router, &dead_destroyed);
    FakeOwner live(&router, &live_destroyed);
    for (int i = 0; i < kSubs; ++i) dead->Subscribe("s." + std::to_string(i));
    dead->Subscribe("work", "grp");
    dead->Subscribe("s.5");
    live.Subscribe("work", "grp");
    live.Subscribe("s.5");
    REQUIRE(router.sublist().count() == kSubs + 4);
    FakeOwner* dead_view = dead.get();

    {
      SubReaper reaper(&loop);
      reaper.Start();
      dead->CloseNow();
      reaper.Add(std::move(dead));
      // A slice without budget removes one batch, no more.
      CHECK(reaper.RunSlice(0));
      CHECK(router.sublist().count() == kSubs + 4 - SubReaper::kBatch);
      CHECK(reaper.pending() == 1);

      // Most of its subscriptions are still there, none of them receives anything, and the
      // queue group always picks the live member.
      router.Route(nullptr, Msg("s.5"));
      router.Route(nullptr, Msg("s.9999"));
      for (int i = 0; i < 100; ++i) router.Route(nullptr, Msg("work"));
      CHECK(dead_view->received == 0);
      CHECK(live.received == 101);
      CHECK_FALSE(router.HasInterest("s.9999"));
      CHECK(router.HasInterest("s.5"));

      while (reaper.RunSlice(0)) {
      }
      CHECK(reaper.slices() == (kSubs + 2 + SubReaper::kBatch - 1) / SubReaper::kBatch);
      CHECK(dead_destroyed);
      CHECK(reaper.removed() == kSubs + 2);
      CHECK(router.sublist().count() == 2);
      CHECK(router.stats().subscriptions == 2);

      int closed = 0;
      reaper.Close([&] { ++closed; });
      uv_run(&loop, UV_RUN_DEFAULT);
      CHECK(closed == 1);
    }
    CHECK_FALSE(live_destroyed);
    CHECK(uv_loop_close(&loop) == 0);
  }

  TEST_CASE("sub_reaper: the loop drains every owner handed over, then the reaper closes") {
    uv_loop_t loop;
    REQUIRE(uv_loop_init(&loop) == 0);
    Router router;
    bool a_destroyed = false, b_destroyed = false;
    {
      SubReaper reaper(&loop);
      reaper.Start();
      auto a = std::make_unique<FakeOwner>(&router, &a_destroyed);
      auto b = std::make_unique<FakeOwner>(&router, &b_destroyed);
      for (int i = 0; i < kSubs; ++i) a->Subscribe("a." + std::to_string(i));
      for (int i = 0; i < 300; ++i) b->Subscribe("b." + std::to_string(i % 7), "q");
      a->CloseNow();
      b->CloseNow();
      reaper.Add(std::move(a));
      reaper.Add(std::move(b));
      // Close waits for the work handed over.
      int closed = 0;
      reaper.Close([&] { ++closed; });
      uv_run(&loop, UV_RUN_DEFAULT);
      CHECK(closed == 1);
      CHECK(a_destroyed);
      CHECK(b_destroyed);
      CHECK(reaper.pending() == 0);
      CHECK(reaper.removed() == kSubs + 300);
      CHECK(reaper.slices() >= 1);
      CHECK(router.sublist().count() == 0);
    }
    CHECK(uv_loop_close(&loop) == 0);
  }
}

}  // namespace tandem::server
