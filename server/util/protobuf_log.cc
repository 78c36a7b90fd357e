// protobuf_log.cc: RouteProtobufLogToSpdlog (see protobuf_log.h).
#include "server/util/protobuf_log.h"

#include <string>

#include <google/protobuf/stubs/logging.h>
#include <spdlog/spdlog.h>

namespace tandem::server {
namespace {

void Handler(google::protobuf::LogLevel level, const char* file, int line,
             const std::string& message) {
  if (level >= google::protobuf::LOGLEVEL_FATAL) {
    spdlog::critical("protobuf: {} ({}:{})", message, file, line);
  } else {
    spdlog::debug("protobuf: {}", message);
  }
}

}  // namespace

void RouteProtobufLogToSpdlog() { google::protobuf::SetLogHandler(&Handler); }

}  // namespace tandem::server
