// stan_codec_test.cc: the streaming protocol encoding, byte for byte against hex examples
// composed by hand from the field numbers, and the hand-written codec against the generated
// classes.
#include "server/stan/stan_codec.h"

#include <cstdint>
#include <string>
#include <vector>
#include <string_view>

#include <doctest/doctest.h>

#include "server/stan/stan_protocol.pb.h"

namespace tandem::server {
namespace {

// "0A 02 63 31" -> bytes; quoted runs ("abc") are taken literally.
std::string Hex(std::string_view spec) {
  std::string out;
  size_t i = 0;
  while (i < spec.size()) {
    char c = spec[i];
    if (c == ' ') {
      ++i;
    } else if (c == '"') {
      size_t end = spec.find('"', i + 1);
      out.append(spec.substr(i + 1, end - i - 1));
      i = end + 1;
    } else {
      out.push_back(static_cast<char>(std::stoi(std::string(spec.substr(i, 2)), nullptr, 16)));
      i += 2;
    }
  }
  return out;
}

}  // namespace

TEST_SUITE("stan_codec") {
  TEST_CASE("stan_codec: varints of every length, at each length's bounds") {
    auto reference = [](uint64_t v) {  // the plain loop of the protobuf encoding
      std::string out;
      while (v >= 0x80) {
        out.push_back(static_cast<char>((v & 0x7f) | 0x80));
        v >>= 7;
      }
      out.push_back(static_cast<char>(v));
      return out;
    };
    std::vector<uint64_t> values = {0, UINT64_MAX};
    for (int bits = 7; bits < 64; bits += 7) {
      values.push_back((uint64_t{1} << bits) - 1);
      values.push_back(uint64_t{1} << bits);
    }
    values.push_back(uint64_t{1} << 63);
    values.push_back(1764400000123456789ULL);  // a timestamp in ns: 9 bytes
    for (uint64_t v : values) {
      std::string out = "prefix";
      AppendVarint(&out, v);
      INFO("value ", v);
      CHECK(out == "prefix" + reference(v));
      CHECK(VarintSize(v) == reference(v).size());
    }
  }

  TEST_CASE("stan_codec: ConnectRequest example") {
    pb::ConnectRequest req;
    req.set_clientid("c1");
    req.set_heartbeatinbox("_INBOX.hb");
    req.set_protocol(1);
    req.set_connid("cid");
    req.set_pinginterval(5);
    req.set_pingmaxout(88);
    std::string want =
        Hex("0A 02 63 31 12 09 5F 49 4E 42 4F 58 2E 68 62 18 01 22 03 63 69 64 28 05 30 58");
    CHECK(want.size() == 26);
    CHECK(EncodeProto(req) == want);
    pb::ConnectRequest back;
    REQUIRE(DecodeProto(want, &back));
    CHECK(back.clientid() == "c1");
    CHECK(back.heartbeatinbox() == "_INBOX.hb");
    CHECK(back.connid() == "cid");
    CHECK(back.pingmaxout() == 88);
  }

  TEST_CASE("stan_codec: ConnectResponse examples") {
    pb::ConnectResponse err;
    err.set_error("stan: clientID already registered");
    CHECK(EncodeProto(err) ==
          Hex("2A 21 73 74 61 6E 3A 20 63 6C 69 65 6E 74 49 44 20 61 6C 72 65 61 64 79 20 72 65 67 "
              "69 73 74 65 72 65 64"));

    pb::ConnectResponse ok;
    ok.set_pubprefix("_STAN.pub.tc");
    ok.set_subrequests("_STAN.sub.tc");
    ok.set_unsubrequests("_STAN.unsub.tc");
    ok.set_closerequests("_STAN.close.tc");
    ok.set_subcloserequests("_STAN.subclose.tc");
    ok.set_pingrequests("_STAN.discover.tc.pings");
    ok.set_pinginterval(5);
    ok.set_pingmaxout(88);
    ok.set_protocol(1);
    CHECK(EncodeProto(ok) ==
          Hex("0A 0C \"_STAN.pub.tc\" 12 0C \"_STAN.sub.tc\" 1A 0E \"_STAN.unsub.tc\" 22 0E "
              "\"_STAN.close.tc\" 32 11 \"_STAN.subclose.tc\" 3A 17 \"_STAN.discover.tc.pings\" "
              "40 05 48 58 50 01"));
  }

  TEST_CASE("stan_codec: PubMsg example decodes in place") {
    std::string wire = Hex("0A 02 63 31 12 02 47 31 1A 03 66 6F 6F 2A 02 68 69 32 03 63 69 64");
    CHECK(wire.size() == 22);
    PubMsgView v;
    REQUIRE(DecodePubMsg(wire, &v));
    CHECK(v.client_id == "c1");
    CHECK(v.guid == "G1");
    CHECK(v.subject == "foo");
    CHECK(v.data == "hi");
    CHECK(v.conn_id == "cid");
    CHECK(v.reply.empty());
    CHECK(v.data.data() >= wire.data());  // a view, not a copy
    CHECK(v.data.data() < wire.data() + wire.size());

    pb::PubMsg m;
    m.set_clientid("c1");
    m.set_guid("G1");
    m.set_subject("foo");
    m.set_data("hi");
    m.set_connid("cid");
    CHECK(EncodeProto(m) == wire);
  }

  TEST_CASE("stan_codec: PubAck examples") {
    CHECK(EncodePubAck("G1", "") == Hex("0A 02 47 31"));
    CHECK(EncodePubAck("G1", "stan: invalid publish request") ==
          Hex("0A 02 47 31 12 1D \"stan: invalid publish request\""));
    CHECK(EncodePubAck("", "").empty());
    pb::PubAck a;
    a.set_guid("G1");
    a.set_error("stan: invalid publish request");
    CHECK(EncodeProto(a) == EncodePubAck("G1", "stan: invalid publish request"));
  }

  TEST_CASE("stan_codec: MsgProto example with redelivery appended") {
    std::string stored;
    AppendMsgProto(&stored, 5, "foo", "", "hi", 1700000000000000000LL);
    CHECK(stored.size() == MsgProtoSize(5, "foo", "", "hi", 1700000000000000000LL));
    std::string want =
        Hex("08 05 12 03 66 6F 6F 22 02 68 69 28 80 80 A8 B1 E3 9F E7 CB 17 30 01 38 01");
    CHECK(WithRedelivery(stored, 1) == want);
    CHECK(want.substr(0, want.size() - 4) == stored);

    pb::MsgProto m;
    REQUIRE(DecodeProto(WithRedelivery(stored, 1), &m));
    CHECK(m.sequence() == 5);
    CHECK(m.subject() == "foo");
    CHECK(m.data() == "hi");
    CHECK(m.timestamp() == 1700000000000000000LL);
    CHECK(m.redelivered());
    CHECK(m.redeliverycount() == 1);

    // A second redelivery of the already-marked bytes: the last value wins.
    pb::MsgProto twice;
    REQUIRE(DecodeProto(WithRedelivery(WithRedelivery(stored, 1), 300), &twice));
    CHECK(twice.redeliverycount() == 300);
  }

  TEST_CASE("stan_codec: MsgProto matches the generated encoder") {
    std::string hand;
    AppendMsgProto(&hand, 123456789, "orders.eu", "reply.x", std::string(300, 'z'), 42);
    pb::MsgProto m;
    m.set_sequence(123456789);
    m.set_subject("orders.eu");
    m.set_reply("reply.x");
    m.set_data(std::string(300, 'z'));
    m.set_timestamp(42);
    CHECK(hand == EncodeProto(m));
  }

  TEST_CASE("stan_codec: Ack example") {
    std::string wire = Hex("0A 03 66 6F 6F 10 05");
    AckView a;
    REQUIRE(DecodeAck(wire, &a));
    CHECK(a.subject == "foo");
    CHECK(a.sequence == 5);
    pb::Ack g;
    g.set_subject("foo");
    g.set_sequence(5);
    CHECK(EncodeProto(g) == wire);
  }

  TEST_CASE("stan_codec: subscription examples") {
    pb::SubscriptionRequest r;
    r.set_clientid("c1");
    r.set_subject("foo");
    r.set_inbox("_INBOX.d1");
    r.set_maxinflight(1024);
    r.set_ackwaitinsecs(30);
    r.set_durablename("dur");
    r.set_startposition(pb::SequenceStart);
    r.set_startsequence(10);
    CHECK(EncodeProto(r) ==
          Hex("0A 02 63 31 12 03 66 6F 6F 22 09 5F 49 4E 42 4F 58 2E 64 31 28 80 08 30 1E 3A 03 64 "
              "75 72 50 03 58 0A"));

    pb::SubscriptionResponse resp;
    resp.set_ackinbox("_INBOX.ak");
    CHECK(EncodeProto(resp) == Hex("12 09 5F 49 4E 42 4F 58 2E 61 6B"));

    pb::UnsubscribeRequest u;
    u.set_clientid("c1");
    u.set_subject("foo");
    u.set_inbox("_INBOX.ak");
    CHECK(EncodeProto(u) == Hex("0A 02 63 31 12 03 66 6F 6F 1A 09 5F 49 4E 42 4F 58 2E 61 6B"));
  }

  TEST_CASE("stan_codec: ping, close and negative int32") {
    pb::Ping p;
    p.set_connid("cid");
    CHECK(EncodeProto(p) == Hex("0A 03 63 69 64"));
    CHECK(EncodeProto(pb::PingResponse()).empty());
    pb::CloseRequest c;
    c.set_clientid("c1");
    CHECK(EncodeProto(c) == Hex("0A 02 63 31"));
    CHECK(EncodeProto(pb::CloseResponse()).empty());

    pb::ConnectRequest neg;
    neg.set_pinginterval(-5);
    std::string want = Hex("28 FB FF FF FF FF FF FF FF FF 01");
    CHECK(EncodeProto(neg) == want);
    pb::ConnectRequest back;
    REQUIRE(DecodeProto(want, &back));
    CHECK(back.pinginterval() == -5);
  }

  TEST_CASE("stan_codec: start position outside the enum survives decoding") {
    std::string wire = Hex("50 07");
    pb::SubscriptionRequest r;
    REQUIRE(DecodeProto(wire, &r));
    CHECK(static_cast<int>(r.startposition()) == 7);
  }

  TEST_CASE("stan_codec: fields in any order, unknown fields skipped") {
    // data first, then an unknown varint field 15, a fixed64 field 16, a fixed32 field 17, guid.
    std::string wire =
        Hex("2A 02 68 69 78 2A 81 01 01 02 03 04 05 06 07 08 8D 01 01 02 03 04 12 02 47 31");
    PubMsgView v;
    REQUIRE(DecodePubMsg(wire, &v));
    CHECK(v.data == "hi");
    CHECK(v.guid == "G1");
    // A repeated field: the last one wins, as in every protobuf parser.
    std::string twice = Hex("12 01 41 12 01 42");  // views point into it
    REQUIRE(DecodePubMsg(twice, &v));
    CHECK(v.guid == "B");
    CHECK(DecodePubMsg("", &v));
  }

  TEST_CASE("stan_codec: malformed input is rejected") {
    PubMsgView v;
    AckView a;
    SUBCASE("length past the end") { CHECK_FALSE(DecodePubMsg(Hex("0A 05 63 31"), &v)); }
    SUBCASE("truncated key") { CHECK_FALSE(DecodePubMsg(Hex("80"), &v)); }
    SUBCASE("truncated varint") { CHECK_FALSE(DecodeAck(Hex("10 FF FF"), &a)); }
    SUBCASE("field number zero") { CHECK_FALSE(DecodePubMsg(Hex("02 00"), &v)); }
    SUBCASE("group wire type") { CHECK_FALSE(DecodePubMsg(Hex("0B 0C"), &v)); }
    SUBCASE("known field with the wrong type") { CHECK_FALSE(DecodePubMsg(Hex("10 01"), &v)); }
    SUBCASE("ack sequence as bytes") { CHECK_FALSE(DecodeAck(Hex("12 01 05"), &a)); }
    SUBCASE("truncated fixed64") { CHECK_FALSE(DecodePubMsg(Hex("79 01 02"), &v)); }
    SUBCASE("every prefix of a valid message either parses or fails cleanly") {
      std::string wire = Hex("0A 02 63 31 12 02 47 31 1A 03 66 6F 6F 2A 02 68 69 32 03 63 69 64");
      for (size_t n = 0; n <= wire.size(); ++n) {
        bool ok = DecodePubMsg(std::string_view(wire).substr(0, n), &v);
        pb::PubMsg g;
        CHECK(ok == DecodeProto(std::string_view(wire).substr(0, n), &g));
      }
    }
  }
}

}  // namespace tandem::server
