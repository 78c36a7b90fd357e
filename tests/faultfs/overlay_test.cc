// overlay_test.cc: the unsynced-write overlay of faultfs (tests/faultfs/overlay.h) over an
// in-memory "backing file": reads across dirty and clean parts, merging of ranges, truncates,
// flush and drop.
#include "tests/faultfs/overlay.h"

#include <algorithm>
#include <cstring>
#include <string>

#include <doctest/doctest.h>

namespace tandem::faultfs {
namespace {

// A backing file in a string, with the flush sequence faultfs runs on a real one.
struct Backing {
  std::string bytes;

  Overlay::BackingRead reader() const {
    return [this](uint64_t off, size_t n, char* out) -> ssize_t {
      if (off >= bytes.size()) return 0;
      size_t got = std::min<size_t>(n, bytes.size() - off);
      std::memcpy(out, bytes.data() + off, got);
      return static_cast<ssize_t>(got);
    };
  }
  void Flush(Overlay& o) {
    bytes.resize(std::min<uint64_t>(bytes.size(), o.clean_limit()));
    for (const auto& [off, data] : o.ranges()) {
      if (bytes.size() < off + data.size()) bytes.resize(off + data.size());
      bytes.replace(off, data.size(), data);
    }
    bytes.resize(o.size());
    o.MarkFlushed();
  }
};

std::string ReadAll(const Overlay& o, const Backing& b, uint64_t off = 0, size_t n = 1 << 16) {
  std::string out(n, '?');
  ssize_t got = o.Read(off, n, out.data(), b.reader());
  REQUIRE(got >= 0);
  out.resize(static_cast<size_t>(got));
  return out;
}

TEST_CASE("overlay: writes are read back over the clean backing bytes") {
  Backing b{"0123456789"};
  Overlay o(b.bytes.size());
  CHECK_FALSE(o.dirty());
  o.Write(2, "ab", 2);
  o.Write(7, "xyz", 3);
  CHECK(o.dirty());
  CHECK(ReadAll(o, b) == "01ab456xyz");
  CHECK(ReadAll(o, b, 3, 5) == "b456x");  // starts inside a range, ends inside the next
  CHECK(ReadAll(o, b, 4, 2) == "45");     // clean only
  CHECK(b.bytes == "0123456789");         // nothing reached the backing file
  CHECK(o.dirty_bytes() == 5);
}

TEST_CASE("overlay: a write past the end grows the file, with zeros in the gap") {
  Backing b{"abc"};
  Overlay o(3);
  o.Write(5, "Z", 1);
  CHECK(o.size() == 6);
  CHECK(ReadAll(o, b) == std::string("abc\0\0Z", 6));
  CHECK(ReadAll(o, b, 6, 10).empty());  // at the end
}

TEST_CASE("overlay: overlapping and touching writes merge into one range") {
  Backing b;
  Overlay o;
  o.Write(0, "aaaa", 4);
  o.Write(8, "cccc", 4);
  o.Write(4, "bbbb", 4);  // touches both: one range
  CHECK(o.ranges().size() == 1);
  CHECK(ReadAll(o, b) == "aaaabbbbcccc");
  o.Write(2, "XXXXXXXX", 8);  // inside
  CHECK(o.ranges().size() == 1);
  CHECK(ReadAll(o, b) == "aaXXXXXXXXcc");
  o.Write(20, "e", 1);
  o.Write(15, "d", 1);
  CHECK(o.ranges().size() == 3);
  o.Write(10, "0123456789A", 11);  // from the end of the first range over both others
  CHECK(o.ranges().size() == 1);
  CHECK(ReadAll(o, b) == "aaXXXXXXXX0123456789A");
  CHECK(o.dirty_bytes() == 21);
}

TEST_CASE("overlay: appends extend the last range in place") {
  Backing b;
  Overlay o;
  std::string expect;
  for (int i = 0; i < 100; ++i) {
    std::string frame(37, static_cast<char>('a' + i % 26));
    o.Write(expect.size(), frame.data(), frame.size());
    expect += frame;
  }
  CHECK(o.ranges().size() == 1);
  CHECK(ReadAll(o, b) == expect);
}

TEST_CASE("overlay: truncate cuts dirty ranges and hides the backing bytes beyond it") {
  Backing b{"0123456789"};
  Overlay o(10);
  o.Write(6, "abcd", 4);
  o.Truncate(4);
  CHECK(o.size() == 4);
  CHECK(o.ranges().empty());
  CHECK(ReadAll(o, b) == "0123");
  o.Truncate(8);  // extends: the old bytes 4..7 do not come back
  CHECK(ReadAll(o, b) == std::string("0123\0\0\0\0", 8));
  o.Write(5, "Q", 1);
  CHECK(ReadAll(o, b) == std::string("0123\0Q\0\0", 8));
  o.Write(1, "xyz", 3);
  o.Truncate(2);  // shortens the range across the cut
  CHECK(ReadAll(o, b) == "0x");
  CHECK(o.dirty_bytes() == 1);
}

TEST_CASE("overlay: flush makes the backing file what reads showed") {
  Backing b{"0123456789"};
  Overlay o(10);
  o.Write(2, "ab", 2);
  o.Truncate(6);
  o.Truncate(9);
  o.Write(8, "z", 1);
  const std::string seen = ReadAll(o, b);
  CHECK(seen == std::string("01ab45\0\0z", 9));
  b.Flush(o);
  CHECK(b.bytes == seen);
  CHECK_FALSE(o.dirty());
  CHECK(ReadAll(o, b) == seen);
}

TEST_CASE("overlay: drop forgets every unsynced write and truncate") {
  Backing b{"0123456789"};
  Overlay o(10);
  o.Write(8, "abcdef", 6);
  o.Truncate(3);
  o.Write(0, "Z", 1);
  CHECK(o.Drop() == 1);
  CHECK_FALSE(o.dirty());
  CHECK(o.size() == 10);
  CHECK(ReadAll(o, b) == "0123456789");

  o.Write(10, "tail", 4);
  b.Flush(o);  // synced: survives the next drop
  o.Write(0, "lost", 4);
  CHECK(o.Drop() == 4);
  CHECK(ReadAll(o, b) == "0123456789tail");
}

TEST_CASE("overlay: a backing read error is returned") {
  Overlay o(10);
  o.Write(0, "ab", 2);
  char buf[10];
  auto failing = [](uint64_t, size_t, char*) -> ssize_t {
    errno = EIO;
    return -1;
  };
  CHECK(o.Read(0, 2, buf, failing) == 2);  // dirty only: the backing file is not read
  CHECK(o.Read(0, 10, buf, failing) == -1);
  CHECK(errno == EIO);
}

}  // namespace
}  // namespace tandem::faultfs
