// log_json_test.cc: the JSON form of the log (server/log_json.h): the line's keys and their
// order, RFC 3339 time in UTC with its fraction, escaping, invalid UTF-8, the fields read
// from a message's first words, and the spdlog formatter writing the same line.
#include "server/log_json.h"

#include <chrono>
#include <string>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>
#include <spdlog/details/log_msg.h>

namespace tandem::server {
namespace {

using std::chrono::system_clock;

// 2026-01-02T03:04:05.678901Z
system_clock::time_point Sample() {
  return system_clock::time_point(std::chrono::microseconds(1767323045678901LL));
}

TEST_SUITE("log_json") {

TEST_CASE("log_json: one object per line, keys in order") {
  std::string line = JsonLogLine(Sample(), "info", "listening for clients on 127.0.0.1:4222");
  CHECK(line ==
        "{\"time\":\"2026-01-02T03:04:05.678901Z\",\"level\":\"info\","
        "\"message\":\"listening for clients on 127.0.0.1:4222\"}\n");
}

TEST_CASE("log_json: the time is UTC, its fraction to the nanosecond without trailing zeros") {
  auto ns = system_clock::time_point(std::chrono::duration_cast<system_clock::duration>(
      std::chrono::nanoseconds(1767323045000000120LL)));
  auto j = nlohmann::json::parse(JsonLogLine(ns, "info", "x"));
  CHECK(j["time"] == "2026-01-02T03:04:05.00000012Z");
  auto epoch = nlohmann::json::parse(JsonLogLine(system_clock::time_point(), "info", "x"));
  CHECK(epoch["time"] == "1970-01-01T00:00:00Z");
}

TEST_CASE("log_json: quotes, backslashes, control bytes and invalid UTF-8 stay one valid line") {
  std::string message = "client said \"hi\\there\"\nand\ta \x01 byte, \xff, and \xc3\xa9";
  std::string line = JsonLogLine(Sample(), "warning", message);
  CHECK(line.find('\n') == line.size() - 1);
  auto j = nlohmann::json::parse(line);
  CHECK(j["level"] == "warning");
  CHECK(j["message"] == "client said \"hi\\there\"\nand\ta \x01 byte, \xef\xbf\xbd, and \xc3\xa9");
}

TEST_CASE("log_json: fields from the message's first words") {
  auto ft = LogFieldsOf("ft: standby b joined");
  CHECK(ft.component == "ft");
  CHECK_FALSE(ft.cid.has_value());
  auto client = LogFieldsOf("client 42: maximum subscriptions exceeded");
  CHECK(client.component == "client");
  REQUIRE(client.cid.has_value());
  CHECK(*client.cid == 42);
  for (const char* none : {"listening for clients on 0.0.0.0:4222", "store recovered: epoch 1",
                           "client x: y", "client : y", "client 12 : y", ": x", "Ft: x", "ft:x",
                           "client 99999999999999999999: too long", "getrlimit(X) failed: y"}) {
    CAPTURE(none);
    auto f = LogFieldsOf(none);
    CHECK(f.component.empty());
    CHECK_FALSE(f.cid.has_value());
  }
  auto described = LogFieldsOf("client 12 (127.0.0.1:5555 'app: 1'): parse error");
  CHECK(described.component == "client");
  CHECK(described.cid == 12);
  CHECK(described.peer == "127.0.0.1:5555");
  CHECK(LogFieldsOf("client 3 ([::1]:4222): x").peer == "[::1]:4222");
  auto j = nlohmann::json::parse(JsonLogLine(Sample(), "info", "client 7: malformed CONNECT"));
  CHECK(j["component"] == "client");
  CHECK(j["cid"] == 7);
  CHECK(j["message"] == "client 7: malformed CONNECT");
  CHECK_FALSE(j.contains("peer"));
  auto s = nlohmann::json::parse(JsonLogLine(Sample(), "info", "stan: serving cluster c"));
  CHECK(s["component"] == "stan");
  CHECK_FALSE(s.contains("cid"));
}

TEST_CASE("log_json: the spdlog formatter writes JsonLogLine") {
  auto formatter = MakeJsonLogFormatter();
  spdlog::details::log_msg msg(Sample(), spdlog::source_loc{}, "tandem", spdlog::level::warn,
                               "ft: degraded: no standby");
  spdlog::memory_buf_t out;
  formatter->format(msg, out);
  CHECK(std::string(out.data(), out.size()) ==
        JsonLogLine(Sample(), "warning", "ft: degraded: no standby"));
  spdlog::memory_buf_t again;
  formatter->clone()->format(msg, again);
  CHECK(std::string(again.data(), again.size()) == std::string(out.data(), out.size()));
}

}  // TEST_SUITE
}  // namespace
}  // namespace tandem::server
