// proc_status.h: reads one field of /proc/<pid>/status (VmRSS, RssAnon, ...) so that tests can
// bound the memory of the tandem process they run.
//
// Thread safety: none needed (a fresh read each call).
#pragma once

#include <fstream>
#include <string>

#include <sys/types.h>

namespace tandem::test {

// A /proc/<pid>/status field in KiB ("VmRSS:", "RssAnon:"); 0 when unknown.
inline long StatusKiB(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string key;
  while (in >> key) {
    if (key == field) {
      long kb = 0;
      in >> kb;
      return kb;
    }
    in.ignore(1 << 16, '\n');
  }
  return 0;
}

}  // namespace tandem::test
