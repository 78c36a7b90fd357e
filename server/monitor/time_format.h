// time_format.h: how monitoring writes times and durations for people and tools, shared by the
// endpoints (Monitor) and `tandem status` (a client of them), so both read the same.
//
// Rfc3339: UTC with the fraction of a second to the nanosecond, trailing zeros dropped, no
// fraction at all on a whole second ("2026-01-02T03:04:05.5Z"), as nats-server writes times.
// Uptime: NATS's "1y2d3h4m5s" form, largest unit first, whole seconds, nothing negative.
// DurationText: a short span for a person: "250us", "40ms", "1.5s"; a minute or more as Uptime.
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <string>

namespace tandem::server {

std::string Rfc3339(int64_t unix_ns);
std::string Uptime(int64_t ns);
std::string DurationText(int64_t ns);

}  // namespace tandem::server
