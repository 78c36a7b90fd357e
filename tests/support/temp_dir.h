// temp_dir.h: a fresh directory under the system temp directory that is removed, with all it
// holds, when the TempDir goes out of scope. Tests use one per case for store files, config
// files and process logs.
//
// Ownership: the TempDir owns the directory. Thread safety: none needed (test main thread).
#pragma once

#include <string>
#include <string_view>

namespace tandem::test {

class TempDir {
 public:
  // Creates <tmp>/tandem-test-XXXXXX; aborts the test binary if that is impossible.
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // path()/name.
  std::string Join(std::string_view name) const;
  // Writes `content` to path()/name (replacing it) and returns the full path.
  std::string WriteFile(std::string_view name, std::string_view content) const;
  // The whole content of path()/name, or "" when it cannot be read.
  std::string ReadFile(std::string_view name) const;

 private:
  std::string path_;
};

}  // namespace tandem::test
