// protobuf_log.h: libprotobuf's own log, routed to spdlog. libprotobuf writes
// `[libprotobuf ERROR ...]` lines straight to stderr, among them complaints about what clients
// send (a string field that is not UTF-8, say). Those are the client's problem, already answered
// with an error reply, so they become debug lines in tandem's format; a FATAL (a bug of ours,
// after which libprotobuf aborts) stays a critical line.
//
// Thread safety: call once at start, before any message is parsed (libprotobuf's
// SetLogHandler is not thread-safe); the handler itself may run on any thread.
#pragma once

namespace tandem::server {

void RouteProtobufLogToSpdlog();

}  // namespace tandem::server
