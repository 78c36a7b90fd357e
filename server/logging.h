// logging.h: sets up the process-wide spdlog logger: one line per event on stderr, flushed at
// once, with an ISO timestamp, the level and the message. Called by App before anything logs;
// everything else just calls spdlog::info(...) and friends.
//
// Thread safety: call SetupLogging once at start, before other threads exist. Logging itself
// is thread safe (a _mt sink).
#pragma once

namespace tandem::server {

enum class LogLevel { kTrace, kDebug, kInfo, kWarn, kError };

void SetupLogging(LogLevel level);

}  // namespace tandem::server
