// log_json.h: the JSON form of the log (`log_format: json`), for log shippers: one object per
// line, `{"time":"2026-01-02T03:04:05.678901Z","level":"info","message":"...", ...}`, with the
// fields the message starts with when it has them (see LogFieldsOf). The time is written as the
// monitoring endpoints write times (server/monitor/time_format.h: UTC, the fraction to the
// nanosecond without trailing zeros). Messages are the same text as in the plain form; JSON
// escaping (and invalid UTF-8, which becomes U+FFFD) is left to nlohmann::json, which is a
// dependency already.
//
// Thread safety: pure functions; the formatter is used under the sink's lock.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <spdlog/formatter.h>

namespace tandem::server {

// The fields of an event that its message states first. The code writes an event's subject
// as the message's first words: `ft: ...`, `stan: ...`, `store: ...`, `http: ...` (one word of
// lower-case letters, then ": ") name the part of the server (`component`); `client 12: ...`
// and `client 12 (127.0.0.1:5555 'name'): ...` name a client connection (`component` "client",
// `cid` 12, `peer` "127.0.0.1:5555"). Anything else has no fields.
struct LogFields {
  std::string component;
  std::optional<uint64_t> cid;
  std::string peer;
};
LogFields LogFieldsOf(std::string_view message);

// One line of the JSON form, '\n' included. `level` is spdlog's name (`warning`, ...).
std::string JsonLogLine(std::chrono::system_clock::time_point time, std::string_view level,
                        std::string_view message);

// An spdlog formatter that writes JsonLogLine for each event.
std::unique_ptr<spdlog::formatter> MakeJsonLogFormatter();

}  // namespace tandem::server
