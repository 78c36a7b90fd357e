// nats_client_reader_test.cc: tests of server/nats/nats_client_reader (server -> client ops).
//
// Every input is fed whole, one byte at a time and split at every position; the recorded events
// and the final error must be the same each way. Each chunk is copied into its own buffer
// that is scribbled over after Feed() returns, so a view kept across Feed() calls shows up
// as corrupted event text.
#include "server/nats/nats_client_reader.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <doctest/doctest.h>

namespace tandem::server {
namespace {

// Records each op as one line of text, copying the views during the callback.
class Recorder : public NatsClientHandler {
 public:
  std::vector<std::string> events;
  size_t stop_at = SIZE_MAX;  // return false from the callback that records event #stop_at

  bool OnInfo(std::string_view json) override { return Add("INFO " + std::string(json)); }
  bool OnMsg(const MsgArgs& m) override {
    std::string e = m.has_headers ? "HMSG " : "MSG ";
    e += std::string(m.subject) + "|" + std::string(m.sid) + "|" + std::string(m.reply) + "|";
    if (m.has_headers) e += std::string(m.headers) + "|";
    e += std::string(m.payload);
    return Add(e);
  }
  bool OnPing() override { return Add("PING"); }
  bool OnPong() override { return Add("PONG"); }
  bool OnOk() override { return Add("+OK"); }
  bool OnErr(std::string_view text) override { return Add("-ERR " + std::string(text)); }

 private:
  bool Add(std::string e) {
    events.push_back(std::move(e));
    return events.size() - 1 != stop_at;
  }
};

struct Outcome {
  std::vector<std::string> events;
  ReadError error = ReadError::kNone;
  size_t buffered = 0;
};

constexpr ClientReaderLimits kSmallLimits{/*max_control_line=*/64, /*max_payload=*/128};

// Feeds `input` cut at the given ascending positions.
Outcome FeedChunks(std::string_view input, const std::vector<size_t>& cuts,
                   ClientReaderLimits limits = ClientReaderLimits(), size_t stop_at = SIZE_MAX) {
  Recorder rec;
  rec.stop_at = stop_at;
  NatsClientReader reader(&rec, limits);
  Outcome out;
  size_t pos = 0;
  std::vector<size_t> ends = cuts;
  ends.push_back(input.size());
  for (size_t end : ends) {
    std::vector<char> chunk(input.begin() + pos, input.begin() + end);
    ReadError e = reader.Feed(chunk.data(), chunk.size());
    std::fill(chunk.begin(), chunk.end(), '#');
    pos = end;
    if (e != ReadError::kNone) {
      out.error = e;
      CHECK(reader.Feed("PING\r\n", 6) == e);  // stays failed
      CHECK(reader.error_snippet().front() == '"');
      break;
    }
  }
  out.events = rec.events;
  out.buffered = reader.buffered();
  return out;
}

// Feeds whole, byte by byte and split at every position; all must agree. Returns the whole run.
Outcome FeedAllWays(std::string_view input, ClientReaderLimits limits = ClientReaderLimits()) {
  Outcome whole = FeedChunks(input, {}, limits);
  std::vector<size_t> bytes;
  for (size_t i = 1; i < input.size(); ++i) bytes.push_back(i);
  Outcome one = FeedChunks(input, bytes, limits);
  CHECK(one.events == whole.events);
  CHECK(one.error == whole.error);
  for (size_t i = 1; i < input.size(); ++i) {
    Outcome split = FeedChunks(input, {i}, limits);
    INFO("split at " << i);
    CHECK(split.events == whole.events);
    CHECK(split.error == whole.error);
  }
  return whole;
}

using Events = std::vector<std::string>;

}  // namespace

TEST_SUITE("nats_client_reader") {
  TEST_CASE("nats_client_reader: INFO, PING, PONG, +OK, -ERR") {
    Outcome o = FeedAllWays(
        "INFO {\"server_id\":\"x\",\"max_payload\":1048576}\r\nPING\r\nPONG\r\n+OK\r\n"
        "-ERR 'Stale Connection'\r\n-ERR\r\n");
    CHECK(o.error == ReadError::kNone);
    CHECK(o.events == Events{"INFO {\"server_id\":\"x\",\"max_payload\":1048576}", "PING", "PONG",
                             "+OK", "-ERR Stale Connection", "-ERR "});
    CHECK(o.buffered == 0);
  }

  TEST_CASE("nats_client_reader: op names in any case, tabs and bare LF") {
    Outcome o = FeedAllWays("info {}\nPing\r\npOnG\n+ok\r\n-err\t'x y'\r\nmsg\ta  1\t2\r\nhi\r\n");
    CHECK(o.error == ReadError::kNone);
    CHECK(o.events == Events{"INFO {}", "PING", "PONG", "+OK", "-ERR x y", "MSG a|1||hi"});
  }

  TEST_CASE("nats_client_reader: MSG with and without reply, empty payload") {
    Outcome o = FeedAllWays(
        "MSG _STAN.ft.c.g 1 5\r\nhello\r\nMSG foo 22 _INBOX.abc 3\r\nabc\r\nMSG e 1 0\r\n\r\n");
    CHECK(o.error == ReadError::kNone);
    CHECK(o.events ==
          Events{"MSG _STAN.ft.c.g|1||hello", "MSG foo|22|_INBOX.abc|abc", "MSG e|1||"});
    CHECK(o.buffered == 0);
  }

  TEST_CASE("nats_client_reader: a payload may hold CR, LF and op names") {
    Outcome o = FeedAllWays("MSG a 1 12\r\nPING\r\nMSG \n\r\r\nPONG\r\n");
    CHECK(o.error == ReadError::kNone);
    CHECK(o.events == Events{"MSG a|1||PING\r\nMSG \n\r", "PONG"});
  }

  TEST_CASE("nats_client_reader: HMSG hands over headers and payload apart") {
    Outcome o = FeedAllWays(
        "HMSG foo 1 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"
        "HMSG _INBOX.r 9 rep 16 16\r\nNATS/1.0 503\r\n\r\n\r\n");
    CHECK(o.error == ReadError::kNone);
    CHECK(o.events ==
          Events{"HMSG foo|1||NATS/1.0\r\n\r\n|hi", "HMSG _INBOX.r|9|rep|NATS/1.0 503\r\n\r\n|"});
  }

  TEST_CASE("nats_client_reader: the control line limit") {
    // 64 bytes of line are fine, with or without a CR; 65 are not.
    std::string ok = "INFO " + std::string(59, 'x');
    REQUIRE(ok.size() == 64);
    CHECK(FeedAllWays(ok + "\r\n", kSmallLimits).error == ReadError::kNone);
    CHECK(FeedAllWays(ok + "\n", kSmallLimits).error == ReadError::kNone);
    CHECK(FeedAllWays(ok + "x\r\n", kSmallLimits).error == ReadError::kMaxControlLine);
    CHECK(FeedAllWays(ok + "\rx\n", kSmallLimits).error == ReadError::kMaxControlLine);

    SUBCASE("a line without end is refused once it is too long, not buffered on and on") {
      Recorder rec;
      NatsClientReader reader(&rec, kSmallLimits);
      std::string chunk(40, 'y');
      CHECK(reader.Feed(chunk.data(), chunk.size()) == ReadError::kNone);
      CHECK(reader.Feed("\r", 1) == ReadError::kNone);  // could still be a 40-byte line ...
      CHECK(reader.Feed(chunk.data(), chunk.size()) == ReadError::kMaxControlLine);
      CHECK(reader.buffered() < 200);
    }
    SUBCASE("the default limit allows a long INFO") {
      std::string info = "INFO {\"connect_urls\":[\"" + std::string(8000, 'a') + "\"]}\r\n";
      CHECK(FeedChunks(info, {}).events.size() == 1);
    }
  }

  TEST_CASE("nats_client_reader: the payload limit") {
    CHECK(FeedAllWays("MSG a 1 128\r\n" + std::string(128, 'p') + "\r\n", kSmallLimits).error ==
          ReadError::kNone);
    Outcome over = FeedAllWays("MSG a 1 129\r\n" + std::string(129, 'p') + "\r\n", kSmallLimits);
    CHECK(over.error == ReadError::kMaxPayload);
    CHECK(over.events.empty());
    CHECK(FeedAllWays("HMSG a 1 12 129\r\n", kSmallLimits).error == ReadError::kMaxPayload);
    CHECK(FeedAllWays("MSG a 1 99999999999999999999999\r\n").error == ReadError::kMaxPayload);
  }

  TEST_CASE("nats_client_reader: bad arguments") {
    const char* bad[] = {
        "MSG a 5\r\n",           // too few
        "MSG a 1 r x 5\r\n",     // too many
        "MSG a 1 -5\r\n",        // not a size
        "MSG a 1 5x\r\n",        // not a size
        "HMSG a 1 5\r\n",        // too few
        "HMSG a 1 r q 3 5\r\n",  // too many
        "HMSG a 1 6 5\r\n",      // header larger than the total
        "HMSG a 1 x 5\r\n",      // header size not a number
        "INFO\r\n",              // no JSON
        "INFO   \r\n",           // no JSON
        "PING x\r\n",            // PING takes nothing
        "PONG 1\r\n",
        "+OK now\r\n",
    };
    for (const char* b : bad) {
      INFO(b);
      Outcome o = FeedAllWays(b);
      CHECK(o.error == ReadError::kBadArgs);
      CHECK(o.events.empty());
    }
  }

  TEST_CASE("nats_client_reader: garbage") {
    const char* bad[] = {
        "\r\n",       // empty line
        " PING\r\n",  // leading blank
        "PINGX\r\n",
        "PUB a 1\r\n",  // a client op
        "MS a 1 1\r\n", "+O\r\n", "-ER 'x'\r\n", "\x01\x02\x03\n", "HTTP/1.1 400 Bad Request\r\n",
    };
    for (const char* b : bad) {
      INFO(b);
      Outcome o = FeedAllWays(b);
      CHECK(o.error == ReadError::kUnknownOp);
      CHECK(o.events.empty());
    }
    // Events before the bad line are delivered; nothing after.
    Outcome o = FeedAllWays("PING\r\nBOGUS\r\nPONG\r\n");
    CHECK(o.error == ReadError::kUnknownOp);
    CHECK(o.events == Events{"PING"});
  }

  TEST_CASE("nats_client_reader: the payload must end in exactly CRLF") {
    const char* bad[] = {"MSG a 1 2\r\nabc\r\n", "MSG a 1 2\r\nab\n\r", "MSG a 1 2\r\nab\nx",
                         "HMSG a 1 1 2\r\nabXY"};
    for (const char* b : bad) {
      INFO(b);
      Outcome o = FeedAllWays(b);
      CHECK(o.error == ReadError::kBadPayloadEnd);
      CHECK(o.events.empty());
    }
  }

  TEST_CASE("nats_client_reader: a handler that returns false stops the reader") {
    std::string input = "PING\r\nMSG a 1 1\r\nx\r\nPONG\r\n";
    for (size_t cut = 1; cut < input.size(); ++cut) {
      Outcome o = FeedChunks(input, {cut}, ClientReaderLimits(), /*stop_at=*/1);
      CHECK(o.error == ReadError::kStopped);
      CHECK(o.events == Events{"PING", "MSG a|1||x"});
    }
  }

  TEST_CASE("nats_client_reader: an incomplete op is held, then Reset forgets it") {
    Recorder rec;
    NatsClientReader reader(&rec, ClientReaderLimits());
    CHECK(reader.Feed("MSG a 1 5\r\nhel", 14) == ReadError::kNone);
    CHECK(reader.buffered() > 0);
    CHECK(rec.events.empty());
    reader.Reset();
    CHECK(reader.buffered() == 0);
    CHECK(reader.Feed("PONG\r\n", 6) == ReadError::kNone);
    CHECK(rec.events == Events{"PONG"});

    CHECK(reader.Feed("NOPE\r\n", 6) == ReadError::kUnknownOp);
    CHECK(reader.error() == ReadError::kUnknownOp);
    CHECK(reader.error_snippet() == "\"NOPE\"");
    reader.Reset();
    CHECK(reader.Feed("PING\r\n", 6) == ReadError::kNone);
    CHECK(rec.events == Events{"PONG", "PING"});
  }

  TEST_CASE("nats_client_reader: a long mixed stream at every split") {
    std::string input;
    Events expected;
    for (int i = 0; i < 20; ++i) {
      std::string payload(static_cast<size_t>(i * 7), static_cast<char>('a' + i));
      input += "MSG s." + std::to_string(i) + " 1 " + std::to_string(payload.size()) + "\r\n" +
               payload + "\r\n";
      expected.push_back("MSG s." + std::to_string(i) + "|1||" + payload);
      if (i % 5 == 0) {
        input += "PING\r\n";
        expected.push_back("PING");
      }
    }
    Outcome o = FeedAllWays(input);
    CHECK(o.error == ReadError::kNone);
    CHECK(o.events == expected);
  }

}  // TEST_SUITE

}  // namespace tandem::server
