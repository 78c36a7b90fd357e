// fault_control_test.cc: the commands of faultfs's control file (tests/faultfs/fault_control.h).
#include "tests/faultfs/fault_control.h"

#include <doctest/doctest.h>

namespace tandem::faultfs {
namespace {

TEST_CASE("fault control: one-shot faults fail one operation, enospc until clear") {
  FaultControl f;
  int power = 0;
  std::string error;
  CHECK(f.BeforeWrite() == 0);
  CHECK(f.BeforeSync() == 0);
  REQUIRE(f.Apply("eio-fsync\neio-write\n", &power, &error));
  CHECK(f.BeforeWrite() == EIO);
  CHECK(f.BeforeWrite() == 0);
  CHECK(f.BeforeSync() == EIO);
  CHECK(f.BeforeSync() == 0);
  REQUIRE(f.Apply("enospc-write", &power, &error));
  CHECK(f.BeforeWrite() == ENOSPC);
  CHECK(f.BeforeWrite() == ENOSPC);
  CHECK(f.BeforeSync() == 0);
  REQUIRE(f.Apply(" clear \r\n", &power, &error));
  CHECK(f.BeforeWrite() == 0);
  CHECK(power == 0);
  CHECK(f.counters().injected == 4);
  CHECK(f.counters().writes == 6);
  CHECK(f.counters().syncs == 4);
}

TEST_CASE("fault control: powerloss lines are counted for the caller; unknown lines refused") {
  FaultControl f;
  int power = 0;
  std::string error;
  CHECK(f.Apply("powerloss\n\npowerloss\n", &power, &error));
  CHECK(power == 2);
  CHECK_FALSE(f.Apply("clear\nreboot\n", &power, &error));
  CHECK(error ==
        "unknown command \"reboot\" (powerloss, eio-fsync, eio-write, enospc-write or clear)");
  const std::string report = f.Report();
  CHECK(report.find("powerlosses 2\n") != std::string::npos);
  CHECK(report.find("armed_enospc_write 0\n") != std::string::npos);
}

}  // namespace
}  // namespace tandem::faultfs
