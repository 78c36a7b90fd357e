// server_info.h: the INFO line the NATS core sends to every client on accept, before the
// client says anything. Clients refuse every publish unless max_payload is above 0. Its fields
// are listed in server/nats/PROTOCOL.md.
//
// Every INFO is complete (clients replace their stored INFO with each one). The fields common to
// all connections are rendered once into a prefix; AppendInfo adds the per-connection client_id
// and client_ip and the line ending. Called by NatsServer (prefix) and ClientConn (per accept).
//
// Thread safety: plain functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "server/nats/core_options.h"

namespace tandem::server {

inline constexpr std::string_view kServerVersion = "2.9.24";

// A fresh random server id: 'N' followed by 55 base32 characters, like nats-server's.
std::string MakeServerId();

// `INFO {"server_id":...,"connect_urls":[...]` without the closing brace.
std::string BuildInfoPrefix(const CoreOptions& options, std::string_view server_id, int port);

// Appends `<prefix>,"client_id":N,"client_ip":"ip"}\r\n` to *out, with `,"nonce":"..."`
// before the closing brace when `nonce` is not empty (nkey users: the client signs it).
void AppendInfo(std::string_view prefix, uint64_t client_id, std::string_view client_ip,
                std::string* out, std::string_view nonce = {});

}  // namespace tandem::server
