// server_info.cc: renders the INFO JSON (see server_info.h).
#include "server/nats/server_info.h"

#include <charconv>
#include <random>

#include <nlohmann/json.hpp>

namespace tandem::server {

std::string MakeServerId() {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  std::random_device rd;
  std::mt19937_64 gen((static_cast<uint64_t>(rd()) << 32) ^ rd());
  std::string id = "N";
  for (int i = 0; i < 55; ++i) id.push_back(kAlphabet[gen() % 32]);
  return id;
}

std::string BuildInfoPrefix(const CoreOptions& options, std::string_view server_id, int port) {
  nlohmann::ordered_json j;
  j["server_id"] = server_id;
  j["server_name"] = options.server_name.empty() ? std::string(server_id) : options.server_name;
  j["version"] = kServerVersion;
  j["proto"] = 1;
  j["go"] = "tandem";
  j["host"] = options.host;
  j["port"] = port;
  j["headers"] = true;
  j["max_payload"] = options.max_payload;
  if (options.tls.enabled) {
    j["tls_required"] = true;
    if (options.tls.verify || options.tls.verify_and_map) j["tls_verify"] = true;
  }
  if (!options.connect_urls.empty()) j["connect_urls"] = options.connect_urls;
  if (options.auth.required()) j["auth_required"] = true;
  std::string body = j.dump();
  body.pop_back();  // the closing brace; AppendInfo adds the per-connection fields
  return "INFO " + body;
}

void AppendInfo(std::string_view prefix, uint64_t client_id, std::string_view client_ip,
                std::string* out, std::string_view nonce) {
  out->append(prefix);
  out->append(",\"client_id\":");
  char num[24];
  auto [end, ec] = std::to_chars(num, num + sizeof(num), client_id);
  out->append(num, end);
  // client_ip comes from inet_ntop: no characters that need JSON escaping.
  out->append(",\"client_ip\":\"");
  out->append(client_ip);
  out->push_back('"');
  // The nonce is base64url: no characters that need JSON escaping either.
  if (!nonce.empty()) {
    out->append(",\"nonce\":\"");
    out->append(nonce);
    out->push_back('"');
  }
  out->append("}\r\n");
}

}  // namespace tandem::server
