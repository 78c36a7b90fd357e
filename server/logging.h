// logging.h: sets up the process-wide spdlog logger: one line per event on stderr, flushed at
// once. The text form (the default) is an ISO timestamp, the level and the message; the JSON
// form (`log_format: json`) is one JSON object per line (server/log_json.h). Called by App
// before anything logs; everything else just calls spdlog::info(...) and friends.
//
// Thread safety: call SetupLogging once at start, before other threads exist. Logging itself
// is thread safe (a _mt sink).
#pragma once

namespace tandem::server {

enum class LogLevel { kTrace, kDebug, kInfo, kWarn, kError };
enum class LogFormat { kText, kJson };

void SetupLogging(LogLevel level, LogFormat format = LogFormat::kText);

}  // namespace tandem::server
