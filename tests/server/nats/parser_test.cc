// parser_test.cc: tests of server/nats/parser (the NATS client-protocol state machine).
//
// Every accepted input is fed whole, one byte at a time and split at every position (and at
// every pair of positions for short inputs); the recorded events and the final error must be
// the same each way. Each chunk is copied into its own buffer
// that is scribbled over after Feed() returns, so a view kept across Feed() calls shows up as
// corrupted event text.
#include "server/nats/parser.h"

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <doctest/doctest.h>

namespace tandem::server {
namespace {

// Records each op as one line of text, copying the views during the callback.
class Recorder : public ParserHandler {
 public:
  std::vector<std::string> events;
  size_t stop_at = SIZE_MAX;  // return false from the callback that records event #stop_at

  bool OnConnect(std::string_view json) override { return Add("CONNECT " + std::string(json)); }
  bool OnPub(const PubArgs& p) override {
    std::string e = p.has_headers ? "HPUB " : "PUB ";
    e += std::string(p.subject) + "|" + std::string(p.reply) + "|";
    if (p.has_headers) e += std::string(p.headers) + "|";
    e += std::string(p.payload);
    return Add(e);
  }
  bool OnSub(std::string_view subject, std::string_view queue, std::string_view sid) override {
    return Add("SUB " + std::string(subject) + "|" + std::string(queue) + "|" + std::string(sid));
  }
  bool OnUnsub(std::string_view sid, int64_t max) override {
    return Add("UNSUB " + std::string(sid) + "|" + std::to_string(max));
  }
  bool OnPing() override { return Add("PING"); }
  bool OnPong() override { return Add("PONG"); }

 private:
  bool Add(std::string e) {
    events.push_back(std::move(e));
    return events.size() - 1 != stop_at;
  }
};

struct Outcome {
  std::vector<std::string> events;
  ParseError error = ParseError::kNone;
  size_t buffered = 0;
};

constexpr ParserLimits kSmallLimits{/*max_control_line=*/64, /*max_payload=*/128};

// Feeds `input` cut at the given ascending positions.
Outcome FeedChunks(std::string_view input, const std::vector<size_t>& cuts,
                   ParserLimits limits = ParserLimits()) {
  Recorder rec;
  Parser parser(&rec, limits);
  Outcome out;
  size_t pos = 0;
  std::vector<size_t> ends = cuts;
  ends.push_back(input.size());
  for (size_t end : ends) {
    std::vector<char> chunk(input.begin() + pos, input.begin() + end);
    ParseError e = parser.Feed(chunk.data(), chunk.size());
    std::fill(chunk.begin(), chunk.end(), '#');
    pos = end;
    if (e != ParseError::kNone) {
      out.error = e;
      break;
    }
  }
  out.events = rec.events;
  out.buffered = parser.buffered();
  return out;
}

Outcome FeedWhole(std::string_view input, ParserLimits limits = ParserLimits()) {
  return FeedChunks(input, {}, limits);
}

// Checks that whole, byte-by-byte and every 2- and (for short inputs) 3-way split agree with
// the expected events and error.
void CheckAllSplits(std::string_view input, const std::vector<std::string>& want,
                    ParseError want_error = ParseError::kNone,
                    ParserLimits limits = ParserLimits()) {
  CAPTURE(input);
  const Outcome whole = FeedWhole(input, limits);
  CHECK(whole.events == want);
  CHECK(whole.error == want_error);

  std::vector<size_t> bytes;
  for (size_t i = 1; i < input.size(); ++i) bytes.push_back(i);
  const Outcome one = FeedChunks(input, bytes, limits);
  CHECK(one.events == want);
  CHECK(one.error == want_error);

  for (size_t a = 0; a <= input.size(); ++a) {
    CAPTURE(a);
    const Outcome two = FeedChunks(input, {a}, limits);
    REQUIRE(two.events == want);
    REQUIRE(two.error == want_error);
    if (input.size() > 80) continue;
    for (size_t b = a; b <= input.size(); ++b) {
      CAPTURE(b);
      const Outcome three = FeedChunks(input, {a, b}, limits);
      REQUIRE(three.events == want);
      REQUIRE(three.error == want_error);
    }
  }
}

TEST_SUITE("parser") {
  TEST_CASE("parser: PING and PONG") {
    CheckAllSplits("PING\r\n", {"PING"});
    CheckAllSplits("PONG\r\n", {"PONG"});
    CheckAllSplits("PING\r\nPONG\r\nPING\r\n", {"PING", "PONG", "PING"});
  }

  TEST_CASE("parser: CONNECT") {
    const std::string json = R"({"verbose":false,"pedantic":false,"name":"a b","lang":"go"})";
    CheckAllSplits("CONNECT " + json + "\r\n", {"CONNECT " + json});
    CheckAllSplits("CONNECT   \t" + json + " \t\r\n", {"CONNECT " + json});
    CheckAllSplits("CONNECT {}\r\nPING\r\n", {"CONNECT {}", "PING"});
  }

  TEST_CASE("parser: SUB and UNSUB") {
    CheckAllSplits("SUB foo 1\r\n", {"SUB foo||1"});
    CheckAllSplits("SUB foo.* workers 22\r\n", {"SUB foo.*|workers|22"});
    // cnats sends an empty queue as two spaces.
    CheckAllSplits("SUB _INBOX.abc  3\r\n", {"SUB _INBOX.abc||3"});
    CheckAllSplits("UNSUB 1\r\n", {"UNSUB 1|-1"});
    CheckAllSplits("UNSUB 7 10\r\n", {"UNSUB 7|10"});
    // cnats sends a trailing space.
    CheckAllSplits("UNSUB 7 \r\n", {"UNSUB 7|-1"});
    CheckAllSplits("UNSUB 7 0\r\n", {"UNSUB 7|0"});
  }

  TEST_CASE("parser: PUB") {
    CheckAllSplits("PUB foo 5\r\nhello\r\n", {"PUB foo||hello"});
    CheckAllSplits("PUB foo bar 5\r\nhello\r\n", {"PUB foo|bar|hello"});
    CheckAllSplits("PUB foo 0\r\n\r\n", {"PUB foo||"});
    // The payload is skipped by size, never scanned: it may hold CR LF and op names.
    CheckAllSplits("PUB foo 12\r\nPING\r\nPUB \r\n\r\n", {"PUB foo||PING\r\nPUB \r\n"});
    CheckAllSplits("PUB a 1\r\nx\r\nPUB b r 2\r\nyz\r\n", {"PUB a||x", "PUB b|r|yz"});
  }

  TEST_CASE("parser: HPUB") {
    const std::string hdr = "NATS/1.0\r\nA: b\r\n\r\n";  // 18 bytes
    REQUIRE(hdr.size() == 18);
    CheckAllSplits("HPUB foo 18 23\r\n" + hdr + "hello\r\n", {"HPUB foo||" + hdr + "|hello"});
    CheckAllSplits("HPUB foo rep 18 18\r\n" + hdr + "\r\n", {"HPUB foo|rep|" + hdr + "|"});
    CheckAllSplits("HPUB foo 0 3\r\nabc\r\n", {"HPUB foo|||abc"});
  }

  TEST_CASE("parser: op names are case-insensitive") {
    CheckAllSplits("ping\r\npOnG\r\n", {"PING", "PONG"});
    CheckAllSplits("pub foo 2\r\nhi\r\nPuB Foo 1\r\nx\r\n", {"PUB foo||hi", "PUB Foo||x"});
    CheckAllSplits("hpub f 0 0\r\n\r\n", {"HPUB f|||"});
    CheckAllSplits("sub f 1\r\nunsub 1\r\nUnSuB 2\r\n", {"SUB f||1", "UNSUB 1|-1", "UNSUB 2|-1"});
    CheckAllSplits("connect {}\r\nCoNnEcT {}\r\n", {"CONNECT {}", "CONNECT {}"});
  }

  TEST_CASE("parser: tabs, runs of blanks, trailing blanks and bare LF") {
    CheckAllSplits("PUB\tfoo\t\t5 \t\r\nhello\r\n", {"PUB foo||hello"});
    CheckAllSplits("PUB  foo   bar\t 5\nhello\r\n", {"PUB foo|bar|hello"});
    CheckAllSplits("SUB\t foo \t q\t9\t\n", {"SUB foo|q|9"});
    CheckAllSplits("PING\nPONG \t\r\n", {"PING", "PONG"});
    CheckAllSplits("UNSUB\t3\t4\n", {"UNSUB 3|4"});
    CheckAllSplits("CONNECT{}\n", {"CONNECT {}"});
  }

  TEST_CASE("parser: pipelined ops in one buffer") {
    const std::string in =
        "CONNECT {\"verbose\":false}\r\nPING\r\nSUB foo 1\r\nSUB bar q 2\r\n"
        "PUB foo r 3\r\nabc\r\nHPUB bar 12 14\r\nNATS/1.0\r\n\r\nhi\r\nUNSUB 1 5\r\nPONG\r\n";
    const std::vector<std::string> want = {
        "CONNECT {\"verbose\":false}",   "PING",      "SUB foo||1", "SUB bar|q|2", "PUB foo|r|abc",
        "HPUB bar||NATS/1.0\r\n\r\n|hi", "UNSUB 1|5", "PONG"};
    CheckAllSplits(in, want);
    const Outcome whole = FeedWhole(in);
    CHECK(whole.buffered == 0);
  }

  TEST_CASE("parser: split ops are buffered and released") {
    Recorder rec;
    Parser p(&rec, ParserLimits());
    const std::string a = "PUB foo.bar reply 10\r\n01234";
    REQUIRE(p.Feed(a.data(), a.size()) == ParseError::kNone);
    CHECK(rec.events.empty());
    CHECK(p.buffered() > 0);
    const std::string b = "56789\r\nPI";
    REQUIRE(p.Feed(b.data(), b.size()) == ParseError::kNone);
    CHECK(rec.events == std::vector<std::string>{"PUB foo.bar|reply|0123456789"});
    CHECK(p.buffered() == 0);
    const std::string c = "NG\r\n";
    REQUIRE(p.Feed(c.data(), c.size()) == ParseError::kNone);
    CHECK(rec.events.size() == 2);

    SUBCASE("a large split payload is released after use") {
      const std::string big(200 * 1024, 'x');
      const std::string head = "PUB big 204800\r\n" + big.substr(0, 1000);
      REQUIRE(p.Feed(head.data(), head.size()) == ParseError::kNone);
      const std::string tail = big.substr(1000) + "\r\n";
      REQUIRE(p.Feed(tail.data(), tail.size()) == ParseError::kNone);
      REQUIRE(rec.events.size() == 3);
      CHECK(rec.events[2] == "PUB big||" + big);
      CHECK(p.buffered() == 0);
    }
  }

  TEST_CASE("parser: steady-state parsing does not grow its buffer") {
    Recorder rec;
    Parser p(&rec, ParserLimits());
    const size_t cap = p.TEST_ScratchCapacity();
    REQUIRE(cap >= ParserLimits().max_control_line);
    const std::string json = "{\"name\":\"" + std::string(1000, 'n') + "\"}";
    const std::string in = "CONNECT " + json + "\r\nSUB foo.* q 1\r\nPUB foo.bar r 300\r\n" +
                           std::string(300, 'x') + "\r\nHPUB foo 12 512\r\nNATS/1.0\r\n\r\n" +
                           std::string(500, 'y') + "\r\nUNSUB 1\r\nPING\r\n";
    for (size_t cut = 0; cut <= in.size(); ++cut) {
      REQUIRE(p.Feed(in.data(), cut) == ParseError::kNone);
      REQUIRE(p.Feed(in.data() + cut, in.size() - cut) == ParseError::kNone);
      REQUIRE(p.buffered() == 0);
    }
    CHECK(rec.events.size() == 6 * (in.size() + 1));
    CHECK(p.TEST_ScratchCapacity() == cap);

    // A split payload larger than the kept buffer is released after its op.
    const std::string big = "PUB big 300000\r\n" + std::string(300000, 'z') + "\r\n";
    REQUIRE(p.Feed(big.data(), 100) == ParseError::kNone);
    CHECK(p.TEST_ScratchCapacity() >= 300000);
    REQUIRE(p.Feed(big.data() + 100, big.size() - 100) == ParseError::kNone);
    CHECK(p.TEST_ScratchCapacity() == cap);
  }

  TEST_CASE("parser: unknown ops") {
    for (const char* in : {"FOO\r\n", "PUX foo 1\r\n", "\r\n", "\n", " PING\r\n", "PINGX\r\n",
                           "PUBfoo 1\r\n", "PUB\r\n", "SUBX\r\n", "UNSUB\r\n", "HPUX\r\n",
                           "CONNEXT {}\r\n", "MSG foo 1 1\r\nx\r\n", "INFO {}\r\n", "+OK\r\n"}) {
      CheckAllSplits(in, {}, ParseError::kUnknownOp);
    }
    // A NUL is not a blank, also on the fast path for "PUB ".
    CheckAllSplits(std::string("PUB\0foo 1\r\nx\r\n", 14), {}, ParseError::kUnknownOp);
    CheckAllSplits(std::string("pUb\0", 4), {}, ParseError::kUnknownOp);
    // Ops before the bad one are delivered.
    CheckAllSplits("PING\r\nPONG\r\nXYZ\r\nPING\r\n", {"PING", "PONG"}, ParseError::kUnknownOp);
  }

  TEST_CASE("parser: state_name names the state after each byte of an op") {
    struct Walk {
      std::string ops;
      std::vector<std::string> names;  // the state after each byte of `ops`
    };
    const Walk walks[] = {
        {"CONNECT {", {"kOpC", "kOpCo", "kOpCon", "kOpConn", "kOpConne", "kOpConnec",
                       "kOpConnect", "kOpConnect", "kConnectArg"}},
        {"HPUB a", {"kOpH", "kOpHp", "kOpHpu", "kOpHpub", "kOpHpubSpc", "kHpubArg"}},
        {"PUB a", {"kOpP", "kOpPu", "kOpPub", "kOpPubSpc", "kPubArg"}},
        {"PING", {"kOpP", "kOpPi", "kOpPin", "kOpPing"}},
        {"PONG", {"kOpP", "kOpPo", "kOpPon", "kOpPong"}},
        {"SUB a", {"kOpS", "kOpSu", "kOpSub", "kOpSubSpc", "kSubArg"}},
        {"UNSUB a", {"kOpU", "kOpUn", "kOpUns", "kOpUnsu", "kOpUnsub", "kOpUnsubSpc",
                     "kUnsubArg"}},
    };
    for (const Walk& w : walks) {
      Recorder rec;
      Parser p(&rec, ParserLimits());
      CHECK(std::string(p.state_name()) == "kOpStart");
      for (size_t i = 0; i < w.names.size(); ++i) {
        INFO(w.ops.substr(0, i + 1));
        REQUIRE(p.Feed(w.ops.data() + i, 1) == ParseError::kNone);
        CHECK(std::string(p.state_name()) == w.names[i]);
      }
    }
    Recorder rec;
    Parser p(&rec, ParserLimits());
    const std::string pub = "PUB a 1\r\nx";
    REQUIRE(p.Feed(pub.data(), pub.size()) == ParseError::kNone);
    CHECK(std::string(p.state_name()) == "kMsgEndR");
    REQUIRE(p.Feed("\r", 1) == ParseError::kNone);
    CHECK(std::string(p.state_name()) == "kMsgEndN");
  }

  TEST_CASE("parser: error offset and snippet") {
    Recorder rec;
    Parser p(&rec, ParserLimits());
    const std::string in = "PING\r\nPUX foo\r\n";
    CHECK(p.Feed(in.data(), in.size()) == ParseError::kUnknownOp);
    CHECK(p.error_offset() == 8);
    CHECK(p.error_snippet() == "\"X foo\\r\\n\"");
    CHECK(std::string(p.state_name()) == "kOpPu");
    // The parser stays failed until Reset().
    const std::string ping = "PING\r\n";
    CHECK(p.Feed(ping.data(), ping.size()) == ParseError::kUnknownOp);
    CHECK(rec.events.size() == 1);
    p.Reset();
    CHECK(p.Feed(ping.data(), ping.size()) == ParseError::kNone);
    CHECK(rec.events.size() == 2);

    SUBCASE("bad arguments quote the control line") {
      p.Reset();
      const std::string bad = "PUB foo bar baz 1\r\nx\r\n";
      CHECK(p.Feed(bad.data(), bad.size()) == ParseError::kBadArgs);
      CHECK(p.error_offset() == 18);
      CHECK(p.error_snippet() == "\"foo bar baz 1\"");
      CHECK(std::string(p.state_name()) == "kPubArg");
    }
    SUBCASE("non-printable bytes are escaped") {
      p.Reset();
      const std::string bad("\x01\xff\"\\", 4);
      CHECK(p.Feed(bad.data(), bad.size()) == ParseError::kUnknownOp);
      CHECK(p.error_snippet() == "\"\\x01\\xff\\\"\\\\\"");
    }
  }

  TEST_CASE("parser: error texts") {
    CHECK(ParseErrorText(ParseError::kUnknownOp) == "Unknown Protocol Operation");
    CHECK(ParseErrorText(ParseError::kMaxControlLine) == "maximum control line exceeded");
    CHECK(ParseErrorText(ParseError::kMaxPayload) == "Maximum Payload Violation");
    // nats-server closes without -ERR on bad arguments and reports a bad payload end as an
    // unknown operation (its parser's generic error).
    CHECK(ParseErrorText(ParseError::kBadArgs) == "");
    CHECK(ParseErrorText(ParseError::kBadPayloadEnd) == "Unknown Protocol Operation");
    CHECK(ParseErrorText(ParseError::kStopped) == "");
    CHECK(ParseErrorText(ParseError::kNone) == "");
  }

  TEST_CASE("parser: max control line") {
    // kSmallLimits: 64 argument bytes.
    const std::string subject_at(62, 's');  // "<62> 1" = 64 bytes
    const std::string subject_over(63, 's');
    CheckAllSplits("SUB " + subject_at + " 1\r\n", {"SUB " + subject_at + "||1"}, ParseError::kNone,
                   kSmallLimits);
    CheckAllSplits("SUB " + subject_at + " 1\n", {"SUB " + subject_at + "||1"}, ParseError::kNone,
                   kSmallLimits);
    CheckAllSplits("SUB " + subject_over + " 1\r\n", {}, ParseError::kMaxControlLine, kSmallLimits);
    CheckAllSplits("SUB " + subject_over + " 1\n", {}, ParseError::kMaxControlLine, kSmallLimits);
    // Trailing blanks count; the line end does not.
    CheckAllSplits("SUB " + subject_at + " 1 \r\n", {}, ParseError::kMaxControlLine, kSmallLimits);
    // CONNECT's JSON is a control line too.
    const std::string json_at = "{\"name\":\"" + std::string(64 - 11, 'n') + "\"}";
    REQUIRE(json_at.size() == 64);
    CheckAllSplits("CONNECT " + json_at + "\r\n", {"CONNECT " + json_at}, ParseError::kNone,
                   kSmallLimits);
    CheckAllSplits("CONNECT " + json_at + " x\r\n", {}, ParseError::kMaxControlLine, kSmallLimits);
    // A line that never ends fails once it is too long, without buffering it all.
    Recorder rec;
    Parser p(&rec, kSmallLimits);
    const std::string endless = "PUB " + std::string(10000, 'a');
    CHECK(p.Feed(endless.data(), endless.size()) == ParseError::kMaxControlLine);
    CHECK(p.buffered() <= 66);
    // Default limit: 4096.
    const std::string big_at(4094, 'x');
    CheckAllSplits("SUB " + big_at + " 1\r\n", {"SUB " + big_at + "||1"});
    CheckAllSplits("SUB " + big_at + "x 1\r\n", {}, ParseError::kMaxControlLine);
  }

  TEST_CASE("parser: max payload") {
    const std::string at(128, 'p');
    CheckAllSplits("PUB foo 128\r\n" + at + "\r\n", {"PUB foo||" + at}, ParseError::kNone,
                   kSmallLimits);
    CheckAllSplits("PUB foo 129\r\n" + at + "p\r\n", {}, ParseError::kMaxPayload, kSmallLimits);
    CheckAllSplits("HPUB foo 10 128\r\n" + at + "\r\n",
                   {"HPUB foo||" + at.substr(0, 10) + "|" + at.substr(10)}, ParseError::kNone,
                   kSmallLimits);
    // HPUB is limited by its total size, headers included.
    CheckAllSplits("HPUB foo 10 129\r\n" + at + "p\r\n", {}, ParseError::kMaxPayload, kSmallLimits);
    CheckAllSplits("PUB foo 99999999999\r\n", {}, ParseError::kMaxPayload);
    // The error comes before any payload byte arrives.
    Recorder rec;
    Parser p(&rec, ParserLimits());
    const std::string line = "PUB foo 1048577\r\n";
    CHECK(p.Feed(line.data(), line.size()) == ParseError::kMaxPayload);
  }

  TEST_CASE("parser: bad sizes") {
    for (const char* in : {"PUB foo abc\r\n", "PUB foo -1\r\nx\r\n", "PUB foo 5x\r\nhello\r\n",
                           "PUB foo +5\r\nhello\r\n", "PUB foo 1234567890123456789\r\n",
                           "HPUB foo x 1\r\n", "HPUB foo 1 y\r\n", "HPUB foo -1 2\r\n",
                           "HPUB foo 3 2\r\nab\r\n", "UNSUB 1 x\r\n", "UNSUB 1 -1\r\n"}) {
      CheckAllSplits(in, {}, ParseError::kBadArgs);
    }
  }

  TEST_CASE("parser: wrong argument counts") {
    for (const char* in : {"PUB foo\r\n", "PUB \r\n", "PUB a b c 1\r\n", "HPUB foo 1\r\n",
                           "HPUB a b c 1 2\r\n", "SUB foo\r\n", "SUB \t\r\n", "SUB a b c d\r\n",
                           "UNSUB \r\n", "UNSUB 1 2 3\r\n", "SUB a b c d e f g h\r\n"}) {
      CheckAllSplits(in, {}, ParseError::kBadArgs);
    }
  }

  TEST_CASE("parser: bad payload end") {
    for (const char* in :
         {"PUB foo 5\r\nhelloX\r\n", "PUB foo 5\r\nhello\n", "PUB foo 5\r\nhello\rX",
          "PUB foo 3\r\nhello\r\n", "HPUB foo 0 1\r\nab\r\n", "PUB foo 0\r\nPING\r\n"}) {
      CheckAllSplits(in, {}, ParseError::kBadPayloadEnd);
    }
    CheckAllSplits("PING\r\nPUB foo 1\r\nxy\r\n", {"PING"}, ParseError::kBadPayloadEnd);
  }

  TEST_CASE("parser: incomplete input is buffered, not an error") {
    for (const char* in : {"PU", "PUB foo", "PUB foo 5\r", "PUB foo 5\r\nhel", "PUB foo 5\r\nhello",
                           "PUB foo 5\r\nhello\r", "CONNECT {\"a\":", "PING\r", "SUB a 1"}) {
      const Outcome o = FeedWhole(in);
      CHECK(o.error == ParseError::kNone);
      CHECK(o.events.empty());
    }
  }

  TEST_CASE("parser: a handler stops the parser") {
    const std::string in =
        "PING\r\nPUB a 1\r\nx\r\nSUB a 1\r\nUNSUB 1\r\nCONNECT {}\r\nPONG\r\n"
        "HPUB a 0 0\r\n\r\nPING\r\n";
    for (size_t stop = 0; stop < 8; ++stop) {
      CAPTURE(stop);
      for (size_t cut = 0; cut <= in.size(); ++cut) {
        Recorder rec;
        rec.stop_at = stop;
        Parser p(&rec, ParserLimits());
        ParseError e = p.Feed(in.data(), cut);
        if (e == ParseError::kNone) e = p.Feed(in.data() + cut, in.size() - cut);
        REQUIRE(e == ParseError::kStopped);
        REQUIRE(rec.events.size() == stop + 1);
        // Stays stopped.
        CHECK(p.Feed("PING\r\n", 6) == ParseError::kStopped);
        CHECK(rec.events.size() == stop + 1);
      }
    }
    // The offset says how much was consumed.
    Recorder rec;
    rec.stop_at = 0;
    Parser p(&rec, ParserLimits());
    CHECK(p.Feed(in.data(), in.size()) == ParseError::kStopped);
    CHECK(p.error_offset() == 6);
  }

  TEST_CASE("parser: views point into the fed buffer when an op is whole") {
    struct Where : public ParserHandler {
      const char* lo = nullptr;
      const char* hi = nullptr;
      bool inside = false;
      bool OnConnect(std::string_view) override { return true; }
      bool OnPub(const PubArgs& p) override {
        inside = p.subject.data() >= lo && p.payload.data() + p.payload.size() <= hi;
        return true;
      }
      bool OnSub(std::string_view, std::string_view, std::string_view) override { return true; }
      bool OnUnsub(std::string_view, int64_t) override { return true; }
      bool OnPing() override { return true; }
      bool OnPong() override { return true; }
    } where;
    Parser p(&where, ParserLimits());
    const std::string in = "PUB foo 5\r\nhello\r\n";
    where.lo = in.data();
    where.hi = in.data() + in.size();
    REQUIRE(p.Feed(in.data(), in.size()) == ParseError::kNone);
    CHECK(where.inside);
    CHECK(p.buffered() == 0);
  }

  // Random bytes, biased towards protocol characters, under small limits: the parser must never
  // crash, must report errors with sane offsets, and must produce the same events and error for
  // any split of the same input.
  TEST_CASE("parser: random garbage") {
    std::mt19937 rng(20261129);
    const std::string alphabet = "PUBSHCONECTIGpubsh \t\r\n0123456789.*>{}:\"ab";
    std::uniform_int_distribution<int> len_dist(0, 160);
    std::uniform_int_distribution<int> byte_dist(0, 255);
    std::uniform_int_distribution<int> pick(0, static_cast<int>(alphabet.size()) - 1);
    std::uniform_int_distribution<int> mode(0, 9);
    const std::vector<std::string> seeds = {"PUB a 3\r\nabc\r\n", "HPUB a r 2 4\r\nxxyy\r\n",
                                            "SUB a.* q 1\r\n",    "UNSUB 1 2\r\n",
                                            "PING\r\n",           "CONNECT {}\r\n"};
    std::uniform_int_distribution<int> seed_pick(0, static_cast<int>(seeds.size()) - 1);
    for (int iter = 0; iter < 3000; ++iter) {
      std::string in;
      const int n = len_dist(rng);
      while (static_cast<int>(in.size()) < n) {
        const int m = mode(rng);
        if (m < 4) {
          in += seeds[seed_pick(rng)];
        } else if (m < 9) {
          in.push_back(alphabet[pick(rng)]);
        } else {
          in.push_back(static_cast<char>(byte_dist(rng)));
        }
      }
      CAPTURE(in);
      Recorder rec;
      Parser p(&rec, kSmallLimits);
      const ParseError e = p.Feed(in.data(), in.size());
      if (e != ParseError::kNone) {
        CHECK(e != ParseError::kStopped);
        CHECK(p.error_offset() <= in.size());
        REQUIRE(p.error_snippet().size() >= 2);
        CHECK(p.error_snippet().front() == '"');
        CHECK(p.error_snippet().back() == '"');
        CHECK(p.Feed(in.data(), in.size()) == e);
      }
      const Outcome whole = FeedWhole(in, kSmallLimits);
      std::vector<size_t> cuts;
      std::uniform_int_distribution<size_t> cut_dist(0, in.size());
      for (int c = 0; c < 3; ++c) cuts.push_back(cut_dist(rng));
      std::sort(cuts.begin(), cuts.end());
      const Outcome split = FeedChunks(in, cuts, kSmallLimits);
      REQUIRE(split.events == whole.events);
      REQUIRE(split.error == whole.error);
    }
  }

}  // TEST_SUITE

}  // namespace
}  // namespace tandem::server
