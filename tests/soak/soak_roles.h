// soak_roles.h: the role monitor and the "exactly one active" check of the soak. One thread
// per member asks its monitoring port for /streaming/serverz about every 50 ms and keeps each
// answer as a sample: when the request was sent, when the answer came, and the role and epoch
// the member reported (or that it did not answer within the timeout, e.g. while stopped).
//
// Check() applies the one-active rules of role_check.h to everything collected.
//
// Ownership: RoleMonitor owns its threads; Stop() (also the destructor) joins them.
// Thread safety: Latest() and the checks may be called from any thread (one mutex).
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tests/soak/role_check.h"

namespace tandem::soak {

// The body of an HTTP/1.0 GET of http://ip:port/path, or nullopt on any failure or when it
// takes longer than timeout_ms (connect, send and the whole answer).
std::optional<std::string> HttpGet(const std::string& ip, int port, const std::string& path,
                                   int timeout_ms);

class RoleMonitor {
 public:
  // One entry per member: the monitoring address it serves on.
  RoleMonitor(std::vector<std::string> ips, int port, int interval_ms, int timeout_ms);
  ~RoleMonitor();
  RoleMonitor(const RoleMonitor&) = delete;
  RoleMonitor& operator=(const RoleMonitor&) = delete;

  void Start();
  void Stop();
  // Member m's latest sample (answered or not).
  RoleSample Latest(int m) const;
  // The member whose latest answer, at most max_age_ms old, says "active"; -1 if none.
  int Active(int max_age_ms) const;
  // True when one member is active and hears the other, which stands by, both answering
  // recently.
  bool Healthy(int max_age_ms) const;
  RoleCheck Check() const;

 private:
  void Poll(int m);

  const std::vector<std::string> ips_;
  const int port_, interval_ms_, timeout_ms_;
  std::atomic<bool> running_{false};
  std::vector<std::thread> threads_;
  mutable std::mutex mu_;
  std::vector<std::vector<RoleSample>> samples_;  // guarded by mu_, per member, in time order
};

}  // namespace tandem::soak
