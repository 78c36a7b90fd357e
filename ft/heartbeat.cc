// heartbeat.cc: encoding and signing of the fault-tolerance heartbeat.
//
// Format: one JSON object, compact, UTF-8, no trailing newline, its members in the order
// nlohmann::json writes them (sorted by name), with the signature appended as the last member:
//
//   {"epoch":7,"id":"9f86d081884c7d65","name":"a","role":"active","seq":42,
//    "store":"<32 hex>","v":2,"mac":"<64 hex>"}
//
//   v      number  format version; a payload without v == 2 is rejected
//   name   string  the sender's configured name (non-empty)
//   id     string  the sender's instance id: 16 lowercase hex digits, random per process
//   role   string  standby | activating | active | stopping | stopped | fenced
//   epoch  number  unsigned 64-bit; the active's fencing epoch (meta.ft_epoch written by its
//                  Store::Open), or for a standby the highest epoch it has heard
//   seq    number  unsigned 64-bit, per sender, +1 per heartbeat
//   store  string  the store id the sender serves or stands by for ("" while unknown)
//   mac    string  HMAC-SHA-256, keyed with the group key, of everything before `,"mac":`
//                  followed by `}` (that is, of the object without its mac member, exactly as
//                  sent), as 64 lowercase hex digits
//
// The signature covers the bytes as sent, so no canonical form is needed: the receiver checks
// the MAC over the received prefix before it parses anything. Unknown members are ignored so
// that a later version can add some (inside the signed part). Version 1 had no store and no
// mac; a member of version 2 ignores it, so a group is upgraded by restarting all its members.
//
// JSON is chosen over a binary layout because heartbeats are rare (ten a second) and easy to
// read in a packet capture or a log.
#include "ft/heartbeat.h"

#include <sodium.h>

#include <cinttypes>
#include <cstdio>

#include <nlohmann/json.hpp>

namespace tandem::ft {

namespace {

std::string InstanceToHex(uint64_t id) {
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016" PRIx64, id);
  return buf;
}

bool HexToInstance(std::string_view hex, uint64_t* id) {
  if (hex.size() != 16) return false;
  uint64_t v = 0;
  for (char c : hex) {
    int d;
    if (c >= '0' && c <= '9')
      d = c - '0';
    else if (c >= 'a' && c <= 'f')
      d = c - 'a' + 10;
    else
      return false;
    v = (v << 4) | static_cast<uint64_t>(d);
  }
  *id = v;
  return true;
}

Status Bad(std::string_view what, std::string_view payload) {
  std::string snippet(payload.substr(0, 64));
  return Status::InvalidArgument("heartbeat: " + std::string(what), "'" + snippet + "'");
}

constexpr char kMacMember[] = ",\"mac\":\"";
constexpr size_t kMacHex = 2 * crypto_auth_hmacsha256_BYTES;

std::string ToHex(const unsigned char* p, size_t n) {
  std::string out(2 * n + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), p, n);
  out.pop_back();
  return out;
}

// The 32-byte key from its 64 hex digits; false for anything else.
bool KeyBytes(std::string_view hex, unsigned char key[crypto_auth_hmacsha256_KEYBYTES]) {
  size_t len = 0;
  return hex.size() == 2 * crypto_auth_hmacsha256_KEYBYTES &&
         sodium_hex2bin(key, crypto_auth_hmacsha256_KEYBYTES, hex.data(), hex.size(), nullptr, &len,
                        nullptr) == 0 &&
         len == crypto_auth_hmacsha256_KEYBYTES;
}

std::string Mac(std::string_view group_key, std::string_view a, std::string_view b = {}) {
  unsigned char key[crypto_auth_hmacsha256_KEYBYTES];
  if (!KeyBytes(group_key, key)) return {};
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, key, sizeof(key));
  crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(a.data()), a.size());
  crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(b.data()), b.size());
  unsigned char out[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256_final(&st, out);
  sodium_memzero(key, sizeof(key));
  return ToHex(out, sizeof(out));
}

}  // namespace

bool TokenMatches(std::string_view expected, std::string_view given) {
  return !expected.empty() && expected.size() == given.size() &&
         sodium_memcmp(expected.data(), given.data(), expected.size()) == 0;
}

std::string MemberToken(std::string_view group_key, std::string_view cluster_id,
                        std::string_view group) {
  std::string what = "tandem member of ";
  what.append(cluster_id);
  what.push_back('.');
  what.append(group);
  return Mac(group_key, what);
}

std::string HeartbeatSubject(std::string_view cluster_id, std::string_view group) {
  std::string s = "_STAN.ft.";
  s.append(cluster_id);
  s.push_back('.');
  s.append(group);
  return s;
}

std::string EncodeHeartbeat(const Heartbeat& hb, std::string_view group_key) {
  nlohmann::json j = {{"v", 2},
                      {"name", hb.name},
                      {"id", InstanceToHex(hb.instance)},
                      {"role", RoleName(hb.role)},
                      {"epoch", hb.epoch},
                      {"seq", hb.seq},
                      {"store", hb.store_id}};
  std::string body = j.dump();  // ends with '}'
  std::string mac = Mac(group_key, body);
  body.pop_back();
  body.append(kMacMember);
  body.append(mac);
  body.append("\"}");
  return body;
}

Result<Heartbeat> DecodeHeartbeat(std::string_view payload, std::string_view group_key) {
  if (group_key.empty()) return Bad("no group key to check it with yet", payload);
  // The signature first: nothing of an unsigned payload is parsed.
  const size_t tail = sizeof(kMacMember) - 1 + kMacHex + 2;  // ,"mac":"<hex>"}
  if (payload.size() <= tail || payload.substr(payload.size() - 2) != "\"}") {
    return Bad("not signed", payload);
  }
  std::string_view signed_part = payload.substr(0, payload.size() - tail);
  std::string_view member = payload.substr(signed_part.size(), sizeof(kMacMember) - 1);
  std::string_view mac = payload.substr(payload.size() - 2 - kMacHex, kMacHex);
  if (member != kMacMember || !TokenMatches(Mac(group_key, signed_part, "}"), mac)) {
    return Bad("bad signature (not a member of this group, or another group key)", payload);
  }
  nlohmann::json j = nlohmann::json::parse(payload, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Bad("not a JSON object", payload);
  auto v = j.find("v");
  if (v == j.end() || !v->is_number_unsigned() || v->get<uint64_t>() != 2) {
    return Bad("unsupported version", payload);
  }
  Heartbeat hb;
  auto name = j.find("name");
  if (name == j.end() || !name->is_string() || name->get_ref<const std::string&>().empty()) {
    return Bad("missing name", payload);
  }
  hb.name = name->get<std::string>();
  auto id = j.find("id");
  if (id == j.end() || !id->is_string() ||
      !HexToInstance(id->get_ref<const std::string&>(), &hb.instance)) {
    return Bad("bad id", payload);
  }
  auto role = j.find("role");
  std::optional<Role> r;
  if (role != j.end() && role->is_string()) r = ParseRole(role->get_ref<const std::string&>());
  if (!r) return Bad("bad role", payload);
  hb.role = *r;
  auto epoch = j.find("epoch");
  if (epoch == j.end() || !epoch->is_number_unsigned()) return Bad("bad epoch", payload);
  hb.epoch = epoch->get<uint64_t>();
  auto seq = j.find("seq");
  if (seq == j.end() || !seq->is_number_unsigned()) return Bad("bad seq", payload);
  hb.seq = seq->get<uint64_t>();
  auto store = j.find("store");
  if (store == j.end() || !store->is_string()) return Bad("bad store", payload);
  hb.store_id = store->get<std::string>();
  return hb;
}

}  // namespace tandem::ft
