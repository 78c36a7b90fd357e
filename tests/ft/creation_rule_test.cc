// Tests for ft/creation_rule: when a lock attempt may create the store, from what the store
// directory shows (a trace or none), the store the group serves and whether the group was heard.
// Pure values: the files themselves are looked at in store_locker_test.cc.
#include "ft/creation_rule.h"

#include <string>

#include <doctest/doctest.h>

namespace tandem::ft {

TEST_SUITE("creation_rule") {

TEST_CASE("creation_rule: when a lock attempt may create the store") {
  const std::string id = "0123456789abcdef0123456789abcdef";
  SUBCASE("nothing here, nothing known: create, or wait for the group when asked") {
    CHECK(DecideCreation(std::string(), "", false).no_create_reason.empty());
    CHECK_FALSE(DecideCreation(std::string(), "", false).wait_for_group);
    CHECK(DecideCreation(std::string(), "", true).no_create_reason.empty());
    CHECK(DecideCreation(std::string(), "", true).wait_for_group);
  }
  SUBCASE("a trace forbids creating, and nothing waits") {
    CreationDecision d = DecideCreation(std::string("store.db-wal"), "", true);
    CHECK(d.no_create_reason.find("store.db-wal shows that a store lived here") == 0);
    CHECK_FALSE(d.wait_for_group);
  }
  SUBCASE("a store the group serves forbids creating") {
    CreationDecision d = DecideCreation(std::string(), id, true);
    CHECK(d.no_create_reason == "the group already serves store " + id);
    CHECK_FALSE(d.wait_for_group);
  }
  SUBCASE("a directory that cannot be listed forbids creating, with the reason") {
    CreationDecision d =
        DecideCreation(Result<std::string>(Status::IOError("data", "permission denied")), "", true);
    CHECK(d.no_create_reason.find("permission denied") != std::string::npos);
    CHECK_FALSE(d.wait_for_group);
  }
}

}  // TEST_SUITE

}  // namespace tandem::ft
