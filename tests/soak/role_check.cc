// role_check.cc: the one-active check over role samples (see role_check.h).
#include "tests/soak/role_check.h"

#include <algorithm>
#include <map>
#include <set>

namespace tandem::soak {

RoleCheck CheckRoles(const std::vector<std::vector<RoleSample>>& samples) {
  struct Run {
    int member;
    uint64_t epoch;
    int64_t first_recv_us, last_sent_us;
  };
  RoleCheck c;
  std::vector<Run> runs;
  std::map<uint64_t, std::set<int>> active_by_epoch;
  for (int m = 0; m < static_cast<int>(samples.size()); ++m) {
    bool in_run = false;
    for (const RoleSample& s : samples[static_cast<size_t>(m)]) {
      ++c.samples;
      if (!s.answered) ++c.unanswered;
      c.max_epoch = std::max(c.max_epoch, s.epoch);
      if (!s.answered || s.role != "active") {
        in_run = false;
        continue;
      }
      active_by_epoch[s.epoch].insert(m);
      if (in_run && runs.back().epoch == s.epoch) {
        runs.back().last_sent_us = s.sent_us;
      } else {
        runs.push_back(Run{m, s.epoch, s.recv_us, s.sent_us});
        in_run = true;
      }
    }
  }
  std::set<std::pair<int, uint64_t>> activations;
  for (const Run& r : runs) activations.insert({r.member, r.epoch});
  c.activations = static_cast<int>(activations.size());
  for (const auto& [epoch, members] : active_by_epoch) {
    if (members.size() > 1) c.same_epoch.push_back(epoch);
  }
  for (size_t i = 0; i < runs.size(); ++i) {
    for (size_t j = i + 1; j < runs.size(); ++j) {
      if (runs[i].member == runs[j].member) continue;
      int64_t from = std::max(runs[i].first_recv_us, runs[j].first_recv_us);
      int64_t to = std::min(runs[i].last_sent_us, runs[j].last_sent_us);
      if (to > from) c.max_overlap_ms = std::max(c.max_overlap_ms, (to - from) / 1000.0);
    }
  }
  return c;
}

}  // namespace tandem::soak
