// row_checksum_test.cc: every appended message row carries a checksum over its seq, timestamp
// and data; a read that meets a row whose bytes no longer match fails with Corruption naming
// the channel and the seq and hands out nothing, while rows without a checksum are accepted.
#include "store/row_checksum.h"

#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "tests/store/store_fixture.h"

namespace tandem::store::testing {

TEST_SUITE("store") {
  TEST_CASE("row checksum: CRC-32C, the same with and without the CPU's instruction") {
    CHECK(Crc32c("123456789") == 0xE3069283u);  // the standard check value
    CHECK(Crc32cPortable("123456789") == 0xE3069283u);
    CHECK(Crc32c("") == 0u);
    std::string data;
    for (int n = 0; n < 300; ++n) {
      CHECK(Crc32c(data) == Crc32cPortable(data));
      data.push_back(static_cast<char>(n * 37 + 11));
    }
  }

  TEST_CASE("row checksum: covers the seq, the timestamp and every byte of the data") {
    const uint32_t base = RowChecksum(7, 1000, "hello");
    CHECK(RowChecksum(7, 1000, "hello") == base);
    CHECK(RowChecksum(8, 1000, "hello") != base);
    CHECK(RowChecksum(7, 1001, "hello") != base);
    CHECK(RowChecksum(7, 1000, "hellp") != base);
    CHECK(RowChecksum(7, 1000, "hell") != base);
    CHECK(VerifyRowChecksum("channel 1", 7, 1000, "hello", base).ok());
    Status bad = VerifyRowChecksum("channel 1", 7, 1000, "hellp", base);
    CHECK(bad.IsCorruption());
    CHECK(bad.message().find("channel 1 seq 7") != std::string::npos);
    CHECK(!VerifyRowChecksum("channel 1", 7, 1000, "hello", -1).ok());
  }

  TEST_CASE_FIXTURE(StoreRig, "store: a damaged message row fails the read that meets it") {
    auto store = OpenOk(loop, path);
    REQUIRE(store->Recover().ok());
    WriteBatch b;
    b.CreateChannel(MakeChannel(1, "foo"));
    AppendRange(b, 1, 1, 40);  // one run of 32 rows and 8 single rows
    REQUIRE(SubmitWait(loop, *store, std::move(b)).status.ok());
    // Every row was written with its checksum.
    Result<std::vector<MsgRecord>> all = ReadWait(loop, *store, 1, 1, 100);
    REQUIRE(all.ok());
    CHECK(all->size() == 40);

    SUBCASE("data") {
      REQUIRE(Exec(*store, "UPDATE messages SET data='zzz' WHERE channel_id=1 AND seq=20").ok());
    }
    SUBCASE("timestamp") {
      REQUIRE(Exec(*store, "UPDATE messages SET timestamp=timestamp+1 "
                           "WHERE channel_id=1 AND seq=20").ok());
    }
    Result<std::vector<MsgRecord>> r = ReadWait(loop, *store, 1, 1, 100);
    REQUIRE(!r.ok());
    CHECK(r.status().IsCorruption());
    CHECK(r.status().message().find("channel 1 seq 20") != std::string::npos);
    // Reads that stay clear of the row are served.
    Result<std::vector<MsgRecord>> before = ReadWait(loop, *store, 1, 1, 19);
    REQUIRE(before.ok());
    CHECK(before->size() == 19);
    Result<std::vector<MsgRecord>> after = ReadWait(loop, *store, 1, 21, 100);
    REQUIRE(after.ok());
    CHECK(after->size() == 20);
    // A row without a checksum (as written before schema 3) is read unverified.
    REQUIRE(Exec(*store, "UPDATE messages SET crc=NULL WHERE channel_id=1 AND seq=20").ok());
    r = ReadWait(loop, *store, 1, 20, 1);
    REQUIRE(r.ok());
    CHECK(r->size() == 1);
    CHECK(store->Close().ok());
  }
}

}  // namespace tandem::store::testing
