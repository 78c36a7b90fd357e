// disk_space_test.cc: DiskSpace's measuring helpers: sizes for log lines, and the free space of
// a directory that does not exist yet (measured on its nearest existing parent).
#include "server/util/disk_space.h"

#include <doctest/doctest.h>

#include "tests/support/temp_dir.h"

namespace tandem::server {

TEST_SUITE("disk_space") {
  TEST_CASE("disk_space: FormatBytes") {
    CHECK(FormatBytes(0) == "0 B");
    CHECK(FormatBytes(1023) == "1023 B");
    CHECK(FormatBytes(1536) == "1.5 KiB");
    CHECK(FormatBytes(DiskSpace::kMinFreeBytes) == "1.0 MiB");
    CHECK(FormatBytes(5ull << 30) == "5.0 GiB");
  }

  TEST_CASE("disk_space: FreeBytes of a missing directory measures its nearest parent") {
    test::TempDir dir;
    int64_t here = DiskSpace::FreeBytes(dir.path());
    CHECK(here > 0);
    int64_t below = DiskSpace::FreeBytes(dir.Join("not/yet/made"));
    CHECK(below > 0);
  }
}

}  // namespace tandem::server
