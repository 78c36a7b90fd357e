// monitor_adapter_test.cc: the conversions from the other layers' types to what monitor/ shows:
// the settings of /varz and /streaming/storez (limits entries resolved as a channel of that
// name gets them), the /connz row of a connection and the core's counters.
#include "server/monitor_adapter.h"

#include <doctest/doctest.h>

namespace tandem::server {
namespace {

constexpr int64_t kMs = 1000000;

bool SameRow(const ChannelLimitsInfo& a, const ChannelLimitsInfo& b) {
  return a.max_msgs == b.max_msgs && a.max_bytes == b.max_bytes && a.max_age_ns == b.max_age_ns &&
         a.max_subs == b.max_subs && a.max_inactivity_ns == b.max_inactivity_ns;
}

TEST_SUITE("monitor") {
  TEST_CASE("monitor: the default settings as varz prints them") {
    MonitorOptions o = MonitorOptionsFrom(CoreOptions{}, StanOptions{});
    CHECK(o.core.host == "0.0.0.0");
    CHECK(o.core.port == 4222);
    CHECK(o.core.max_connections == 65536);
    CHECK(o.core.ping_interval_ns == 120000 * kMs);
    CHECK(o.core.max_pings_out == 2);
    CHECK(o.core.max_control_line == 4096);
    CHECK(o.core.max_payload == 1048576);
    CHECK(o.core.max_pending_bytes == 64 * 1024 * 1024);
    CHECK(o.core.write_deadline_ns == 10000 * kMs);
    CHECK(o.store_type == "SQL");
    CHECK_FALSE(o.now_ns);
    CHECK(o.limits.max_channels == 100);
    CHECK(SameRow(o.limits.global, {1000000, 1024000000, 0, 1000, 0}));
    CHECK(o.limits.channels.empty());
  }

  TEST_CASE("monitor: every core setting is carried, durations in nanoseconds") {
    CoreOptions core;
    core.host = "127.0.0.2";
    core.port = 0;
    core.max_connections = 7;
    core.ping_interval_ms = 1500;
    core.max_pings_out = 9;
    core.max_control_line = 11;
    core.max_payload = 13;
    core.max_pending_bytes = 17;
    core.write_deadline_ms = 19;
    MonitorOptions o = MonitorOptionsFrom(core, StanOptions{});
    CHECK(o.core.host == "127.0.0.2");
    CHECK(o.core.port == 0);
    CHECK(o.core.max_connections == 7);
    CHECK(o.core.ping_interval_ns == 1500 * kMs);
    CHECK(o.core.max_pings_out == 9);
    CHECK(o.core.max_control_line == 11);
    CHECK(o.core.max_payload == 13);
    CHECK(o.core.max_pending_bytes == 17);
    CHECK(o.core.write_deadline_ns == 19 * kMs);
  }

  TEST_CASE("monitor: storez limits: globals alone, then each entry resolved, in name order") {
    StanOptions stan;
    stan.limits.max_channels = 5;
    stan.limits.max_inactivity_ns = 3;
    stan.limits.channels["foo.>"].max_msgs = 10;
    stan.limits.channels["foo.bar"].max_age_ns = 5;
    stan.limits.channels["a"].max_subs = 0;  // 0 is unlimited, not "inherit"
    MonitorOptions o = MonitorOptionsFrom(CoreOptions{}, stan);
    CHECK(o.limits.max_channels == 5);
    // The global row is the globals alone, whatever the entries say.
    CHECK(SameRow(o.limits.global, {1000000, 1024000000, 0, 1000, 3}));
    REQUIRE(o.limits.channels.size() == 3);
    CHECK(o.limits.channels[0].first == "a");
    CHECK(SameRow(o.limits.channels[0].second, {1000000, 1024000000, 0, 0, 3}));
    CHECK(o.limits.channels[1].first == "foo.>");
    CHECK(SameRow(o.limits.channels[1].second, {10, 1024000000, 0, 1000, 3}));
    // A literal entry inherits from the wildcard entries that match it, not only the globals.
    CHECK(o.limits.channels[2].first == "foo.bar");
    CHECK(SameRow(o.limits.channels[2].second, {10, 1024000000, 5, 1000, 3}));
  }

  TEST_CASE("monitor: storez limits carry max_deliveries, dead_letter and the backoff") {
    StanOptions stan;
    stan.limits.max_deliveries = 4;
    stan.limits.redelivery_backoff.initial_ns = 7;
    stan.limits.channels["foo.bar"].dead_letter = "foo.dead";
    MonitorOptions o = MonitorOptionsFrom(CoreOptions{}, stan);
    CHECK(o.limits.global.max_deliveries == 4);
    CHECK(o.limits.global.dead_letter.empty());
    CHECK(o.limits.global.backoff_initial_ns == 7);
    CHECK(o.limits.global.backoff_factor == 2.0);
    REQUIRE(o.limits.channels.size() == 1);
    CHECK(o.limits.channels[0].second.max_deliveries == 4);
    CHECK(o.limits.channels[0].second.dead_letter == "foo.dead");
  }

  TEST_CASE("monitor: a connection row counts its ages back from now") {
    ConnSnapshot s;
    s.cid = 3;
    s.ip = "10.0.0.1";
    s.port = 5555;
    s.age_ms = 2000;
    s.idle_ms = 250;
    s.pending_bytes = 4;
    s.in_msgs = 5;
    s.in_bytes = 6;
    s.out_msgs = 7;
    s.out_bytes = 8;
    s.subscriptions = 9;
    s.name = "n";
    s.lang = "go";
    s.version = "1.2";
    ConnInfo c = ConnInfoFrom(s, 1000000 * kMs);
    CHECK(c.cid == 3);
    CHECK(c.ip == "10.0.0.1");
    CHECK(c.port == 5555);
    CHECK(c.start_ns == (1000000 - 2000) * kMs);
    CHECK(c.last_activity_ns == (1000000 - 250) * kMs);
    CHECK(c.pending_bytes == 4);
    CHECK(c.in_msgs == 5);
    CHECK(c.in_bytes == 6);
    CHECK(c.out_msgs == 7);
    CHECK(c.out_bytes == 8);
    CHECK(c.subscriptions == 9);
    CHECK(c.name == "n");
    CHECK(c.lang == "go");
    CHECK(c.version == "1.2");
  }

  TEST_CASE("monitor: the core's counters keep their meaning") {
    CoreStats s;
    s.in_msgs = 1;
    s.in_bytes = 2;
    s.out_msgs = 3;
    s.out_bytes = 4;
    s.connections = 5;
    s.total_connections = 6;
    s.slow_consumers = 7;
    s.subscriptions = 8;
    CoreCounters c = CoreCountersFrom(s);
    CHECK(c.in_msgs == 1);
    CHECK(c.in_bytes == 2);
    CHECK(c.out_msgs == 3);
    CHECK(c.out_bytes == 4);
    CHECK(c.connections == 5);
    CHECK(c.total_connections == 6);
    CHECK(c.slow_consumers == 7);
    CHECK(c.subscriptions == 8);
  }

}  // TEST_SUITE
}  // namespace
}  // namespace tandem::server
