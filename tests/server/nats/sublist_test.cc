// sublist_test.cc: the subscription trie: literal, `*` and `>` matching, queue groups, removal
// with pruning, and the generation-checked match cache. Every matching case runs twice, with the
// cache on and off (nats-server runs its sublist tests as X and XNoCache).
#include "server/nats/sublist.h"

#include <algorithm>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <doctest/doctest.h>

namespace tandem::server {
namespace {

SubscriptionPtr Sub(std::string subject, std::string queue = "", std::string sid = "1") {
  return std::make_shared<Subscription>(nullptr, std::move(subject), std::move(queue),
                                        std::move(sid));
}

std::set<const Subscription*> Plain(const SublistResult& r) {
  std::set<const Subscription*> out;
  for (const auto& s : r.psubs) out.insert(s.get());
  return out;
}

// Runs `body` once with the default cache and once without a cache.
template <typename F>
void WithAndWithoutCache(F body) {
  for (size_t cache : {Sublist::kDefaultCacheMax, size_t{0}}) {
    CAPTURE(cache);
    Sublist sl(cache);
    body(sl);
  }
}

}  // namespace

TEST_SUITE("sublist") {
  TEST_CASE("sublist: literal subjects match exactly") {
    WithAndWithoutCache([](Sublist& sl) {
      auto a = Sub("foo.bar");
      auto b = Sub("foo");
      REQUIRE(sl.Insert(a));
      REQUIRE(sl.Insert(b));
      CHECK(sl.count() == 2);
      CHECK(Plain(*sl.Match("foo.bar")) == std::set<const Subscription*>{a.get()});
      CHECK(Plain(*sl.Match("foo")) == std::set<const Subscription*>{b.get()});
      CHECK(sl.Match("foo.baz")->empty());
      CHECK(sl.Match("foo.bar.baz")->empty());
      CHECK(sl.Match("Foo.bar")->empty());
      // Repeated matches give the same answer (second one from the cache when enabled).
      CHECK(Plain(*sl.Match("foo.bar")) == std::set<const Subscription*>{a.get()});
    });
  }

  TEST_CASE("sublist: `*` matches exactly one token") {
    WithAndWithoutCache([](Sublist& sl) {
      auto s1 = Sub("foo.*");
      auto s2 = Sub("*.bar");
      auto s3 = Sub("foo.*.baz");
      REQUIRE(sl.Insert(s1));
      REQUIRE(sl.Insert(s2));
      REQUIRE(sl.Insert(s3));
      CHECK(Plain(*sl.Match("foo.bar")) == std::set<const Subscription*>{s1.get(), s2.get()});
      CHECK(Plain(*sl.Match("foo.x")) == std::set<const Subscription*>{s1.get()});
      CHECK(Plain(*sl.Match("foo.x.baz")) == std::set<const Subscription*>{s3.get()});
      CHECK(sl.Match("foo")->empty());
      CHECK(sl.Match("foo.x.y")->empty());
    });
  }

  TEST_CASE("sublist: `>` matches one or more trailing tokens") {
    WithAndWithoutCache([](Sublist& sl) {
      auto s1 = Sub("foo.>");
      auto s2 = Sub(">");
      auto s3 = Sub("foo.*.>");
      REQUIRE(sl.Insert(s1));
      REQUIRE(sl.Insert(s2));
      REQUIRE(sl.Insert(s3));
      CHECK(Plain(*sl.Match("foo")) == std::set<const Subscription*>{s2.get()});
      CHECK(Plain(*sl.Match("foo.a")) == std::set<const Subscription*>{s1.get(), s2.get()});
      CHECK(Plain(*sl.Match("foo.a.b")) ==
            std::set<const Subscription*>{s1.get(), s2.get(), s3.get()});
      CHECK(Plain(*sl.Match("bar.a.b.c")) == std::set<const Subscription*>{s2.get()});
    });
  }

  TEST_CASE("sublist: invalid subscription subjects are refused") {
    Sublist sl;
    CHECK_FALSE(sl.Insert(Sub("foo..bar")));
    CHECK_FALSE(sl.Insert(Sub(".foo")));
    CHECK_FALSE(sl.Insert(Sub("foo.")));
    CHECK_FALSE(sl.Insert(Sub("")));
    CHECK_FALSE(sl.Insert(Sub("foo.>.bar")));
    CHECK(sl.count() == 0);
    // `foo*` is an ordinary literal token, as in nats-server.
    auto lit = Sub("foo*.bar");
    CHECK(sl.Insert(lit));
    CHECK(Plain(*sl.Match("foo*.bar")) == std::set<const Subscription*>{lit.get()});
    CHECK(sl.Match("fooX.bar")->empty());
  }

  TEST_CASE("sublist: subjects with empty tokens match nothing") {
    WithAndWithoutCache([](Sublist& sl) {
      REQUIRE(sl.Insert(Sub(">")));
      CHECK(sl.Match("")->empty());
      CHECK(sl.Match("foo..bar")->empty());
      CHECK(sl.Match("foo.")->empty());
    });
  }

  TEST_CASE("sublist: queue members are grouped by name across nodes") {
    WithAndWithoutCache([](Sublist& sl) {
      auto q1 = Sub("foo.bar", "workers", "1");
      auto q2 = Sub("foo.*", "workers", "2");
      auto q3 = Sub("foo.bar", "other", "3");
      auto p = Sub("foo.bar");
      for (auto& s : {q1, q2, q3, p}) REQUIRE(sl.Insert(s));
      auto r = sl.Match("foo.bar");
      CHECK(r->psubs.size() == 1);
      REQUIRE(r->qsubs.size() == 2);
      std::set<std::string> names;
      for (const auto& g : r->qsubs) {
        names.insert(g.front()->queue);
        for (const auto& m : g) CHECK(m->queue == g.front()->queue);
        if (g.front()->queue == "workers") CHECK(g.size() == 2);
        if (g.front()->queue == "other") CHECK(g.size() == 1);
      }
      CHECK(names == std::set<std::string>{"workers", "other"});
      auto r2 = sl.Match("foo.baz");
      CHECK(r2->psubs.empty());
      REQUIRE(r2->qsubs.size() == 1);
      CHECK(r2->qsubs[0].size() == 1);
      CHECK(r2->qsubs[0][0] == q2);
    });
  }

  TEST_CASE("sublist: remove takes the subscription out, marks it closed and prunes") {
    WithAndWithoutCache([](Sublist& sl) {
      auto a = Sub("a.b.c");
      auto b = Sub("a.*.c");
      auto c = Sub("a.>");
      auto q = Sub("a.b.c", "q");
      for (auto& s : {a, b, c, q}) REQUIRE(sl.Insert(s));
      CHECK(sl.Match("a.b.c")->psubs.size() == 3);
      CHECK(sl.Remove(a));
      CHECK(a->closed);
      CHECK_FALSE(sl.Remove(a));
      CHECK(Plain(*sl.Match("a.b.c")) == std::set<const Subscription*>{b.get(), c.get()});
      CHECK(sl.Remove(q));
      CHECK(sl.Match("a.b.c")->qsubs.empty());
      CHECK(sl.Remove(b));
      CHECK(sl.Remove(c));
      CHECK(sl.count() == 0);
      CHECK(sl.Match("a.b.c")->empty());
      // A never-inserted subscription with an equal subject is not removed by mistake.
      auto x = Sub("x.y");
      auto y = Sub("x.y");
      REQUIRE(sl.Insert(x));
      CHECK_FALSE(sl.Remove(y));
      CHECK(sl.count() == 1);
      CHECK(sl.Remove(x));
      // After pruning, re-inserting works as on a fresh list.
      REQUIRE(sl.Insert(a));
      CHECK(sl.Match("a.b.c")->psubs.size() == 1);
    });
  }

  TEST_CASE("sublist: a held result survives removal of its subscriptions") {
    WithAndWithoutCache([](Sublist& sl) {
      auto a = Sub("foo");
      REQUIRE(sl.Insert(a));
      auto r = sl.Match("foo");
      REQUIRE(sl.Remove(a));
      a.reset();
      REQUIRE(r->psubs.size() == 1);
      CHECK(r->psubs[0]->closed);
      CHECK(r->psubs[0]->subject == "foo");
    });
  }

  TEST_CASE("sublist: cache hits and invalidation by generation") {
    Sublist sl;
    auto a = Sub("foo.*");
    REQUIRE(sl.Insert(a));
    uint64_t gen = sl.genid();
    auto r1 = sl.Match("foo.bar");
    auto r2 = sl.Match("foo.bar");
    CHECK(r1 == r2);  // the same cached object
    CHECK(sl.cache_hits() == 1);
    CHECK(sl.cache_size() == 1);

    auto b = Sub("foo.bar");
    REQUIRE(sl.Insert(b));
    CHECK(sl.genid() == gen + 1);
    auto r3 = sl.Match("foo.bar");
    CHECK(r3 != r1);
    CHECK(r3->psubs.size() == 2);
    CHECK(r1->psubs.size() == 1);  // an old result is unchanged
    CHECK(sl.cache_hits() == 1);

    REQUIRE(sl.Remove(b));
    CHECK(sl.genid() == gen + 2);
    CHECK(sl.Match("foo.bar")->psubs.size() == 1);
    CHECK(sl.cache_hits() == 1);
    CHECK(sl.Match("foo.bar")->psubs.size() == 1);
    CHECK(sl.cache_hits() == 2);
  }

  TEST_CASE("sublist: the cache stays bounded") {
    Sublist sl(16);
    REQUIRE(sl.Insert(Sub(">")));
    for (int i = 0; i < 1000; ++i) {
      auto r = sl.Match("s." + std::to_string(i));
      REQUIRE(r->psubs.size() == 1);
      REQUIRE(sl.cache_size() <= 16);
    }
    // Disabled cache never stores anything.
    Sublist none(0);
    REQUIRE(none.Insert(Sub(">")));
    CHECK(none.Match("a")->psubs.size() == 1);
    CHECK(none.cache_size() == 0);
    CHECK(none.cache_hits() == 0);
  }

  TEST_CASE("sublist: many tokens beyond the stack buffer") {
    WithAndWithoutCache([](Sublist& sl) {
      std::string subject = "t0";
      for (int i = 1; i < 50; ++i) subject += ".t" + std::to_string(i);
      auto lit = Sub(subject);
      auto fwc = Sub("t0.t1.>");
      REQUIRE(sl.Insert(lit));
      REQUIRE(sl.Insert(fwc));
      CHECK(Plain(*sl.Match(subject)) == std::set<const Subscription*>{lit.get(), fwc.get()});
    });
  }

  TEST_CASE("sublist: removal in any order among many on one subject keeps the rest exact") {
    WithAndWithoutCache([](Sublist& sl) {
      // Every removal moves the last member into the freed place; the others must stay findable.
      constexpr int kN = 20000;
      std::vector<SubscriptionPtr> plain, queued;
      for (int i = 0; i < kN; ++i) {
        plain.push_back(Sub("many.subs", "", std::to_string(i)));
        queued.push_back(Sub("many.subs", i % 2 ? "odd" : "even", std::to_string(i)));
        REQUIRE(sl.Insert(plain.back()));
        REQUIRE(sl.Insert(queued.back()));
      }
      // Remove every third one, from the middle outwards, then check what is left.
      std::set<const Subscription*> left_plain;
      size_t left_queued = 0;
      for (int i = 0; i < kN; ++i) {
        const int k = (i % 2) ? kN / 2 + i / 2 : kN / 2 - 1 - i / 2;
        if (k % 3 == 0) {
          REQUIRE(sl.Remove(plain[k]));
          REQUIRE(sl.Remove(queued[k]));
          CHECK_FALSE(sl.Remove(plain[k]));
        } else {
          left_plain.insert(plain[k].get());
          ++left_queued;
        }
      }
      auto r = sl.Match("many.subs");
      CHECK(Plain(*r) == left_plain);
      REQUIRE(r->qsubs.size() == 2);
      CHECK(r->qsubs[0].size() + r->qsubs[1].size() == left_queued);
      CHECK(sl.count() == left_plain.size() + left_queued);
      for (int k = 0; k < kN; ++k) {
        if (k % 3 == 0) continue;
        REQUIRE(sl.Remove(plain[k]));
        REQUIRE(sl.Remove(queued[k]));
      }
      CHECK(sl.count() == 0);
      CHECK(sl.Match("many.subs")->empty());
      // The emptied trie takes new subscriptions as a fresh one does.
      auto again = Sub("many.subs.x");
      REQUIRE(sl.Insert(again));
      CHECK(Plain(*sl.Match("many.subs.x")) == std::set<const Subscription*>{again.get()});
    });
  }

  TEST_CASE("sublist: a level emptied of most of many subjects still matches correctly") {
    WithAndWithoutCache([](Sublist& sl) {
      // Many distinct subjects under one level: their table grows, then shrinks as they go.
      constexpr int kN = 50000;
      std::vector<SubscriptionPtr> subs;
      for (int i = 0; i < kN; ++i) {
        subs.push_back(Sub("fan." + std::to_string(i)));
        REQUIRE(sl.Insert(subs.back()));
      }
      auto keep = Sub("fan.*");
      REQUIRE(sl.Insert(keep));
      for (int i = 0; i < kN - 1; ++i) REQUIRE(sl.Remove(subs[i]));
      CHECK(sl.count() == 2);
      CHECK(Plain(*sl.Match("fan.0")) == std::set<const Subscription*>{keep.get()});
      const std::string last = "fan." + std::to_string(kN - 1);
      CHECK(Plain(*sl.Match(last)) ==
            std::set<const Subscription*>{keep.get(), subs[kN - 1].get()});
    });
  }

  TEST_CASE("sublist: the same subscription subject twice gives two entries") {
    WithAndWithoutCache([](Sublist& sl) {
      auto a = Sub("foo", "", "1");
      auto b = Sub("foo", "", "2");
      REQUIRE(sl.Insert(a));
      REQUIRE(sl.Insert(b));
      CHECK(sl.Match("foo")->psubs.size() == 2);
      REQUIRE(sl.Remove(a));
      auto r = sl.Match("foo");
      REQUIRE(r->psubs.size() == 1);
      CHECK(r->psubs[0] == b);
    });
  }
}

}  // namespace tandem::server
