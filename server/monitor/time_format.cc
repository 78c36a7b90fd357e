// time_format.cc: times and durations as monitoring writes them (see time_format.h).
#include "server/monitor/time_format.h"

#include <algorithm>
#include <cstdio>
#include <ctime>

namespace tandem::server {

std::string Rfc3339(int64_t unix_ns) {
  int64_t secs = unix_ns / 1000000000;
  int64_t nanos = unix_ns % 1000000000;
  if (nanos < 0) {
    nanos += 1000000000;
    --secs;
  }
  time_t t = static_cast<time_t>(secs);
  tm utc;
  gmtime_r(&t, &utc);
  char buf[64];
  strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &utc);
  std::string out(buf);
  if (nanos != 0) {
    char frac[16];
    std::snprintf(frac, sizeof(frac), ".%09lld", static_cast<long long>(nanos));
    std::string f(frac);
    while (f.back() == '0') f.pop_back();
    out += f;
  }
  return out + "Z";
}

std::string Uptime(int64_t ns) {
  int64_t s = std::max<int64_t>(ns, 0) / 1000000000;
  int64_t m = s / 60, h = m / 60, d = h / 24, y = d / 365;
  char buf[64];
  if (y > 0) {
    std::snprintf(buf, sizeof(buf), "%lldy%lldd%lldh%lldm%llds", (long long)y, (long long)(d % 365),
                  (long long)(h % 24), (long long)(m % 60), (long long)(s % 60));
  } else if (d > 0) {
    std::snprintf(buf, sizeof(buf), "%lldd%lldh%lldm%llds", (long long)d, (long long)(h % 24),
                  (long long)(m % 60), (long long)(s % 60));
  } else if (h > 0) {
    std::snprintf(buf, sizeof(buf), "%lldh%lldm%llds", (long long)h, (long long)(m % 60),
                  (long long)(s % 60));
  } else if (m > 0) {
    std::snprintf(buf, sizeof(buf), "%lldm%llds", (long long)m, (long long)(s % 60));
  } else {
    std::snprintf(buf, sizeof(buf), "%llds", (long long)s);
  }
  return buf;
}

std::string DurationText(int64_t ns) {
  char buf[64];
  if (ns < 1000000) {
    std::snprintf(buf, sizeof(buf), "%lldus", static_cast<long long>(ns / 1000));
  } else if (ns < 1000000000) {
    std::snprintf(buf, sizeof(buf), "%lldms", static_cast<long long>(ns / 1000000));
  } else if (ns < 60 * 1000000000LL) {
    std::snprintf(buf, sizeof(buf), "%.1fs", ns / 1e9);
  } else {
    return Uptime(ns);
  }
  return buf;
}

}  // namespace tandem::server
