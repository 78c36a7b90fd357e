// log_json_test.cc: `log_format: json` through the real binary. A server started with it writes
// nothing but JSON objects, one per line, each with an RFC 3339 UTC `time` (with a fraction),
// `level` and `message`, and `component`/`cid`/`peer` where the message names a client; a
// warning and a client's raw bytes (quotes, a backslash, a byte that is not UTF-8) included.
// The flag overrides the file, text stays the default, and a bad value is a one-line error.
#include <signal.h>
#include <time.h>

#include <chrono>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "tests/support/tandem_process.h"
#include "tests/support/wire_client.h"

namespace tandem::test {
namespace {

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::string UtcDate(std::chrono::system_clock::time_point t) {
  time_t secs = std::chrono::system_clock::to_time_t(t);
  struct tm tm {};
  gmtime_r(&secs, &tm);
  char buf[16];
  strftime(buf, sizeof(buf), "%Y-%m-%d", &tm);
  return buf;
}

// Every line of `log` parsed; a line that is not a JSON object fails the test, naming it.
std::vector<nlohmann::json> ParseAll(const std::string& log) {
  std::vector<nlohmann::json> out;
  for (const auto& line : Lines(log)) {
    CAPTURE(line);
    auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    REQUIRE_FALSE(j.is_discarded());
    REQUIRE(j.is_object());
    out.push_back(std::move(j));
  }
  return out;
}

const nlohmann::json* FindMessage(const std::vector<nlohmann::json>& lines, std::string_view part) {
  for (const auto& j : lines) {
    if (j["message"].get<std::string>().find(part) != std::string::npos) return &j;
  }
  return nullptr;
}

}  // namespace

TEST_SUITE("log_json") {

TEST_CASE("log_json: every line is one JSON object with time, level and message") {
  TempDir dir;
  std::string cfg =
      dir.WriteFile("tandem.yaml", "log_format: json\nnats: {max_subscriptions: 1}\n");
  TandemProcess p(dir.path(), "tandem.log");
  int port = FreePort();
  auto before = std::chrono::system_clock::now();
  REQUIRE(p.Start({"serve", "--config", cfg, "--listen", "127.0.0.1:" + std::to_string(port),
                   "--store", "data"}));
  REQUIRE(p.WaitForPort(port));

  // A warning naming a client: the second SUB over nats.max_subscriptions.
  WireClient c;
  REQUIRE(c.Handshake(port));
  REQUIRE(c.Send("SUB a 1\r\nSUB b 2\r\n"));
  REQUIRE(c.Expect("-ERR 'maximum subscriptions exceeded'"));
  // A client's raw bytes in a message: quotes, a backslash, a byte that is not UTF-8.
  WireClient raw;
  REQUIRE(raw.Connect(port));
  REQUIRE(raw.Send("HELLO \"q\\\xff\"\r\n"));
  REQUIRE(raw.WaitClosed());
  REQUIRE(p.WaitForLog("parse error"));

  REQUIRE(p.Signal(SIGTERM));
  auto rc = p.WaitExit();
  REQUIRE(rc.has_value());
  CHECK(*rc == 0);
  auto after = std::chrono::system_clock::now();

  std::string log = p.Log();
  INFO("log: ", log);
  auto lines = ParseAll(log);
  REQUIRE(lines.size() >= 4);
  const std::regex rfc3339(R"(^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{1,9}Z$)");
  for (const auto& j : lines) {
    CAPTURE(j.dump());
    REQUIRE(j.contains("time"));
    REQUIRE(j.contains("level"));
    REQUIRE(j.contains("message"));
    std::string time = j["time"].get<std::string>();
    CHECK(std::regex_match(time, rfc3339));
    CHECK((time.substr(0, 10) == UtcDate(before) || time.substr(0, 10) == UtcDate(after)));
    std::string level = j["level"].get<std::string>();
    CHECK((level == "info" || level == "warning" || level == "error" || level == "debug"));
    CHECK_FALSE(j["message"].get<std::string>().empty());
  }
  CHECK(lines.front()["message"].get<std::string>().find("starting") != std::string::npos);
  CHECK(FindMessage(lines, "listening for clients on 127.0.0.1:" + std::to_string(port)));
  CHECK(lines.back()["message"] == "stopped cleanly");

  const nlohmann::json* warning = FindMessage(lines, "maximum subscriptions exceeded");
  REQUIRE(warning != nullptr);
  CHECK((*warning)["level"] == "warning");
  CHECK((*warning)["component"] == "client");
  REQUIRE((*warning)["cid"].is_number_unsigned());
  CHECK((*warning)["cid"].get<uint64_t>() >= 1);
  CHECK((*warning)["peer"].get<std::string>().rfind("127.0.0.1:", 0) == 0);

  const nlohmann::json* parse = FindMessage(lines, "parse error");
  REQUIRE(parse != nullptr);
  CHECK((*parse)["component"] == "client");
  CHECK((*parse)["cid"] != (*warning)["cid"]);
}

TEST_CASE("log_json: --log-format overrides the file; text is the default") {
  TempDir dir;
  std::string cfg = dir.WriteFile("tandem.yaml", "log_format: text\n");
  {
    TandemProcess p(dir.path(), "json.log");
    int port = FreePort();
    REQUIRE(p.Start({"serve", "--config", cfg, "--log-format", "json", "--listen",
                     "127.0.0.1:" + std::to_string(port), "--store", "data-json"}));
    REQUIRE(p.WaitForPort(port));
    REQUIRE(p.Signal(SIGTERM));
    REQUIRE(p.WaitExit() == 0);
    INFO("log: ", p.Log());
    auto lines = ParseAll(p.Log());
    CHECK(FindMessage(lines, "stopped cleanly"));
  }
  {
    TandemProcess p(dir.path(), "text.log");
    int port = FreePort();
    REQUIRE(p.Start({"serve", "--listen", "127.0.0.1:" + std::to_string(port), "--store",
                     "data-text"}));
    REQUIRE(p.WaitForPort(port));
    REQUIRE(p.Signal(SIGTERM));
    REQUIRE(p.WaitExit() == 0);
    INFO("log: ", p.Log());
    const std::regex text(R"(^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z info .+)");
    for (const auto& line : Lines(p.Log())) {
      CAPTURE(line);
      CHECK(line.front() != '{');
    }
    CHECK(std::regex_match(Lines(p.Log()).front(), text));
  }
}

TEST_CASE("log_json: a bad log_format is one line naming the key and the value") {
  TandemProcess flag;
  auto rc = flag.Run({"serve", "--log-format", "xml"});
  REQUIRE(rc.has_value());
  CHECK(*rc == 2);
  CHECK(flag.Log() ==
        "tandem: config: --log-format (log_format): \"xml\" is not a log format (text or json)\n");

  TempDir dir;
  std::string cfg = dir.WriteFile("bad.yaml", "log_format: JSON\n");
  TandemProcess file;
  rc = file.Run({"serve", "--config", cfg});
  REQUIRE(rc.has_value());
  CHECK(*rc == 2);
  CHECK(file.Log() == "tandem: config: " + cfg +
                          ": log_format: \"JSON\" is not a log format (text or json)\n");
}

}  // TEST_SUITE
}  // namespace tandem::test
