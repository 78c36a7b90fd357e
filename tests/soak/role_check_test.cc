// role_check_test.cc: the soak's one-active check on made-up samples: a clean handover passes,
// the same epoch active on both members fails, a proven overlap is measured, and answers that
// only might have overlapped are not counted.
#include "tests/soak/role_check.h"

#include <doctest/doctest.h>

namespace tandem::soak {
namespace {

constexpr int64_t kMs = 1000;

// Samples every 50 ms from `from_ms` to `to_ms` (exclusive), each answered 5 ms after sending.
void Add(std::vector<RoleSample>& v, int64_t from_ms, int64_t to_ms, const std::string& role,
         uint64_t epoch) {
  for (int64_t t = from_ms; t < to_ms; t += 50) {
    v.push_back(RoleSample{t * kMs, (t + 5) * kMs, !role.empty(), role, epoch, 0});
  }
}

TEST_SUITE("soak_role_check") {
  TEST_CASE("a kill and a takeover: one active at a time") {
    std::vector<std::vector<RoleSample>> s(2);
    Add(s[0], 0, 1000, "active", 1);
    Add(s[0], 1000, 1300, "", 0);  // killed: no answers
    Add(s[0], 1300, 2000, "standby", 2);
    Add(s[1], 0, 1050, "standby", 1);
    Add(s[1], 1050, 2000, "active", 2);
    RoleCheck c = CheckRoles(s);
    CHECK(c.same_epoch.empty());
    CHECK(c.max_overlap_ms == 0);
    CHECK(c.activations == 2);
    CHECK(c.max_epoch == 2);
    CHECK(c.unanswered == 6);
  }

  TEST_CASE("both members active with the same epoch is reported") {
    std::vector<std::vector<RoleSample>> s(2);
    Add(s[0], 0, 1000, "active", 3);
    Add(s[1], 2000, 2100, "active", 3);  // even without overlapping in time
    RoleCheck c = CheckRoles(s);
    REQUIRE(c.same_epoch.size() == 1);
    CHECK(c.same_epoch[0] == 3);
  }

  TEST_CASE("a proven overlap of two actives is measured") {
    std::vector<std::vector<RoleSample>> s(2);
    Add(s[0], 0, 2000, "active", 4);  // last request sent at 1950 ms
    Add(s[1], 0, 1000, "standby", 4);
    Add(s[1], 1000, 2000, "active", 5);  // first answer received at 1005 ms
    RoleCheck c = CheckRoles(s);
    CHECK(c.same_epoch.empty());
    CHECK(c.max_overlap_ms == doctest::Approx(945));
  }

  TEST_CASE("answers that only might have overlapped count as none") {
    std::vector<std::vector<RoleSample>> s(2);
    // a's last active answer: sent at 1000 ms, received at 1300 ms; b's first: sent at 1100 ms,
    // received at 1200 ms. Both could have been true at different moments of that window.
    s[0].push_back(RoleSample{900 * kMs, 905 * kMs, true, "active", 1, 1});
    s[0].push_back(RoleSample{1000 * kMs, 1300 * kMs, true, "active", 1, 1});
    s[1].push_back(RoleSample{1100 * kMs, 1200 * kMs, true, "active", 2, 0});
    s[1].push_back(RoleSample{1150 * kMs, 1250 * kMs, true, "active", 2, 0});
    CHECK(CheckRoles(s).max_overlap_ms == 0);
  }

  TEST_CASE("a stopped active that answers again with its epoch is one activation") {
    std::vector<std::vector<RoleSample>> s(2);
    Add(s[0], 0, 500, "active", 6);
    Add(s[0], 500, 2500, "", 0);  // SIGSTOP: no answers
    Add(s[0], 2500, 3000, "active", 6);
    Add(s[1], 0, 3000, "standby", 6);
    RoleCheck c = CheckRoles(s);
    CHECK(c.activations == 1);
    CHECK(c.same_epoch.empty());
    CHECK(c.max_overlap_ms == 0);
  }

}  // TEST_SUITE

}  // namespace
}  // namespace tandem::soak
