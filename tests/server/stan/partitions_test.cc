// partitions_test.cc: the ownership matcher and the partitioning message codec (partitions.h),
// byte for byte against the reference's layout.
#include "server/stan/partitions.h"

#include <doctest/doctest.h>

namespace tandem::server {
namespace {

TEST_SUITE("partitions") {

TEST_CASE("patterns overlap when one literal channel matches both") {
  CHECK(PatternsOverlap("foo", "foo"));
  CHECK_FALSE(PatternsOverlap("foo", "bar"));
  CHECK(PatternsOverlap("foo.*", "foo.bar"));
  CHECK(PatternsOverlap("foo.*", "*.bar"));  // foo.bar
  CHECK(PatternsOverlap("foo.>", "foo.*"));
  CHECK(PatternsOverlap("foo.>", "foo.a.b"));
  CHECK(PatternsOverlap(">", "x"));
  CHECK_FALSE(PatternsOverlap("foo.>", "foo"));  // '>' needs one token at least
  CHECK_FALSE(PatternsOverlap("foo.*", "foo"));
  CHECK_FALSE(PatternsOverlap("foo.*", "foo.a.b"));
  CHECK_FALSE(PatternsOverlap("foo.*.c", "foo.b.d"));
}

TEST_CASE("ownership: owns matching names, reports the first conflicting entry") {
  ChannelOwnership own({"orders.>", "audit"});
  CHECK(own.Owns("orders.eu"));
  CHECK(own.Owns("orders.eu.paris"));
  CHECK(own.Owns("audit"));
  CHECK_FALSE(own.Owns("orders"));
  CHECK_FALSE(own.Owns("audit.x"));
  CHECK(own.FirstConflict({"logs", "audit.x"}).empty());
  CHECK(own.FirstConflict({"logs", "orders.*", "audit"}) == "orders.*");
}

TEST_CASE("channel list: 2-byte little-endian lengths, split under the size bound") {
  std::vector<std::string> out;
  REQUIRE(EncodeChannelLists({"ab", "c"}, 1000, &out));
  REQUIRE(out.size() == 1);
  CHECK(out[0] == std::string("\x02\x00" "ab" "\x01\x00" "c", 7));
  std::vector<std::string> names;
  REQUIRE(DecodeChannelList(out[0], &names));
  CHECK(names == std::vector<std::string>{"ab", "c"});
  REQUIRE(EncodeChannelLists({"ab", "cd", "ef"}, 8, &out));
  CHECK(out.size() == 2);
  CHECK_FALSE(EncodeChannelLists({std::string(10, 'x')}, 8, &out));
  CHECK_FALSE(DecodeChannelList(std::string("\x05\x00" "ab", 4), &names));
  CHECK_FALSE(DecodeChannelList(std::string("\x05", 1), &names));
  std::string big(300, 'z');
  REQUIRE(EncodeChannelLists({big}, 1000, &out));
  CHECK(out[0].substr(0, 2) == std::string("\x2c\x01", 2));  // 300
}

TEST_CASE("CtrlMsg: MsgType 4, ServerID, Data with the reference's field numbers") {
  const std::string bytes = EncodePartitionMsg({"S1", std::string("\x01\x00" "a", 3)});
  // field 1 varint 4; field 2 "S1"; field 3 bytes.
  CHECK(bytes == std::string("\x08\x04\x12\x02S1\x1a\x03\x01\x00" "a", 11));
  PartitionMsg m;
  REQUIRE(DecodePartitionMsg(bytes, &m));
  CHECK(m.server_id == "S1");
  CHECK(m.data == std::string("\x01\x00" "a", 3));
  CHECK_FALSE(DecodePartitionMsg("", &m));
  CHECK_FALSE(DecodePartitionMsg("\xff\xff\xff", &m));
}

}  // TEST_SUITE

}  // namespace
}  // namespace tandem::server
