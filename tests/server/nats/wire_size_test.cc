// wire_size_test.cc: ParseWireSize, the size argument of PUB/HPUB/MSG/HMSG/UNSUB: digits only,
// -1 when malformed, -2 when longer than 18 digits (both parsers refuse either).
#include "server/nats/wire_size.h"

#include <doctest/doctest.h>

namespace tandem::server {

TEST_SUITE("wire_size") {
  TEST_CASE("wire_size: ParseWireSize") {
    CHECK(ParseWireSize("0") == 0);
    CHECK(ParseWireSize("1024") == 1024);
    CHECK(ParseWireSize("007") == 7);
    CHECK(ParseWireSize("999999999999999999") == 999999999999999999);
    CHECK(ParseWireSize("") == -1);
    CHECK(ParseWireSize("-1") == -1);
    CHECK(ParseWireSize("+1") == -1);
    CHECK(ParseWireSize("1k") == -1);
    CHECK(ParseWireSize(" 1") == -1);
    CHECK(ParseWireSize("1234567890123456789") == -2);
    CHECK(ParseWireSize("1234567890123456789x") == -1);
  }
}

}  // namespace tandem::server
