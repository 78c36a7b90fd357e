// config_backup_test.cc: the `backup:` section (server/config_backup.h): off by default, an
// absolute existing directory, only with a monitoring port, each error naming key and value.
#include <string>

#include <doctest/doctest.h>

#include "server/config.h"
#include "tests/support/temp_dir.h"

namespace tandem::server {
namespace {

std::string ErrorOf(const std::string& yaml) {
  auto c = ParseConfig(yaml, {});
  INFO("yaml: ", yaml);
  REQUIRE_FALSE(c.ok());
  return c.status().message();
}

TEST_SUITE("config_backup") {

TEST_CASE("config: backup is off by default and set by backup.dir") {
  auto off = ParseConfig("http: 127.0.0.1:8222\n", {});
  REQUIRE(off.ok());
  CHECK(off->http.backup_dir.empty());
  test::TempDir dir;
  auto on = ParseConfig("http: 127.0.0.1:8222\nbackup: {dir: " + dir.path() + "/./}\n", {});
  REQUIRE_MESSAGE(on.ok(), on.status().ToString());
  CHECK(on->http.backup_dir == dir.path() + "/");
}

TEST_CASE("config: a bad backup section names the key and the value") {
  test::TempDir dir;
  CHECK(ErrorOf("http: 127.0.0.1:8222\nbackup: {dir: backups}\n") ==
        "config: backup.dir: \"backups\" is not an absolute path");
  CHECK(ErrorOf("http: 127.0.0.1:8222\nbackup: {dir: " + dir.Join("none") + "}\n") ==
        "config: backup.dir: \"" + dir.Join("none") + "\" is not an existing directory");
  CHECK(ErrorOf("http: 127.0.0.1:8222\nbackup: {path: /tmp}\n").find("backup.path: unknown key") !=
        std::string::npos);
  CHECK(ErrorOf("backup: {dir: " + dir.path() + "}\n") ==
        "config: backup.dir: needs http or https: backups are asked for on the monitoring port");
}

}  // TEST_SUITE

}  // namespace
}  // namespace tandem::server
