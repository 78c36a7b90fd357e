// channel_test.cc: channel names, limits resolution with wildcard overrides (widest to
// narrowest, then the literal name), creation errors, and the recent-message cache.
#include "server/stan/channel.h"

#include <doctest/doctest.h>

namespace tandem::server {

TEST_SUITE("channel") {
  TEST_CASE("channel: name validity") {
    CHECK(ChannelRegistry::IsValidName("foo"));
    CHECK(ChannelRegistry::IsValidName("foo.bar"));
    CHECK(ChannelRegistry::IsValidName("with space"));  // not checked by the streaming layer
    for (const char* bad : {"", ".foo", "foo.", "foo..bar", "foo/bar", "foo.*", "foo.>", "a*b"})
      CHECK_FALSE(ChannelRegistry::IsValidName(bad));
  }

  TEST_CASE("channel: limits inherit from the widest wildcard to the literal entry") {
    StanLimits l;
    l.max_msgs = 1000;
    l.max_bytes = 5000;
    l.max_subs = 10;
    l.channels["foo.>"].max_msgs = 100;
    l.channels["foo.>"].max_bytes = 400;
    l.channels["foo.*"].max_msgs = 50;
    l.channels["foo.bar"].max_subs = 2;
    l.channels["foo.bar"].max_bytes = 0;  // 0 in the config: unlimited
    l.channels["other.*"].max_inactivity_ns = 5;
    ChannelRegistry reg(l);
    ResolvedLimits r = reg.Resolve("foo.bar");
    CHECK(r.store.max_msgs == 50);
    CHECK(r.store.max_bytes == 0);
    CHECK(r.max_subs == 2);
    r = reg.Resolve("foo.bar.baz");
    CHECK(r.store.max_msgs == 100);
    CHECK(r.store.max_bytes == 400);
    CHECK(r.max_subs == 10);
    r = reg.Resolve("zzz");
    CHECK(r.store.max_msgs == 1000);
    CHECK(reg.Resolve("other.x").max_inactivity_ns == 5);
    CHECK(reg.Resolve("other").max_inactivity_ns == 0);
  }

  TEST_CASE("channel: case conflicts and max_channels") {
    StanLimits l;
    l.max_channels = 2;
    ChannelRegistry reg(l);
    CHECK(reg.CheckCreate("foo") == "");
    Channel* foo = reg.Create("foo");
    CHECK(foo->id() == 1);
    CHECK(reg.CheckCreate("FOO") ==
          "rejecting channel \"FOO\" because channel \"foo\" alreay exists (different cases not "
          "allowed)");
    reg.Create("bar");
    CHECK(reg.CheckCreate("baz") == "too many channels");
    reg.Remove(reg.Lookup("bar"));
    CHECK(reg.CheckCreate("baz") == "");
    CHECK(reg.Create("baz")->id() == 3);  // ids are never reused
  }

  TEST_CASE("channel: sequences, timestamps and the cache") {
    StanLimits l;
    ChannelRegistry reg(l);
    Channel* ch = reg.Create("c");
    int64_t ts = 0;
    CHECK(ch->Append(100, &ts) == 1);
    CHECK(ts == 100);
    ch->CacheMsg(1, ts, "one");
    CHECK(ch->Append(50, &ts) == 2);  // the clock went back: the timestamp does not
    CHECK(ts == 100);
    ch->CacheMsg(2, ts, "two");
    CHECK(ch->Lookup(1) == nullptr);  // not committed yet
    ch->Committed(1);
    REQUIRE(ch->Lookup(1) != nullptr);
    CHECK(ch->Lookup(1)->data == "one");
    CHECK(ch->Lookup(2) == nullptr);
    ch->Committed(2);
    CHECK(ch->Lookup(2)->data == "two");
    CHECK(ch->msgs() == 2);
    // The store trimmed seq 1 (max_msgs).
    store::ChannelStats st;
    st.channel_id = ch->id();
    st.first_seq = 2;
    st.last_seq = 2;
    st.msgs = 1;
    st.bytes = 3;
    ch->ApplyStats(st);
    CHECK(ch->first_seq() == 2);
    CHECK(ch->Lookup(1) == nullptr);
    CHECK(ch->cache_first() == 2);
    CHECK(ch->msgs() == 1);
  }

  TEST_CASE("channel: the cache is bounded") {
    StanLimits l;
    ChannelRegistry reg(l);
    Channel* ch = reg.Create("big");
    int64_t ts = 0;
    uint64_t n = ChannelRegistry::kCacheMaxMsgs + 10;
    for (uint64_t i = 1; i <= n; ++i) {
      ch->Append(1, &ts);
      ch->CacheMsg(i, ts, "x");
      ch->Committed(i);
    }
    CHECK(ch->cache().size() == ChannelRegistry::kCacheMaxMsgs);
    CHECK(ch->Lookup(1) == nullptr);
    CHECK(ch->Lookup(n) != nullptr);
  }
}

}  // namespace tandem::server
