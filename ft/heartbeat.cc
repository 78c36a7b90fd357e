// heartbeat.cc: encoding of the fault-tolerance heartbeat.
//
// Format: one JSON object, compact, UTF-8, no trailing newline. Version 1 has exactly these
// members (order is not significant; unknown members are ignored so that a later version can add
// some without breaking an older peer):
//
//   {"v":1,"name":"a","id":"9f86d081884c7d65","role":"active","epoch":7,"seq":42}
//
//   v      number  format version; a payload without v == 1 is rejected
//   name   string  the sender's configured name (non-empty)
//   id     string  the sender's instance id: 16 lowercase hex digits, random per process
//   role   string  standby | activating | active | stopping | stopped | fenced
//   epoch  number  unsigned 64-bit; the active's fencing epoch (meta.ft_epoch written by its
//                  Store::Open), or for a standby the highest epoch it has heard
//   seq    number  unsigned 64-bit, per sender, +1 per heartbeat
//
// JSON is chosen over a binary layout because heartbeats are rare (ten a second) and an operator
// can read them with any NATS client (`nats sub '_STAN.ft.>'`).
#include "ft/heartbeat.h"

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
    if (c >= '0' && c <= '9') d = c - '0';
    else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
    else return false;
    v = (v << 4) | static_cast<uint64_t>(d);
  }
  *id = v;
  return true;
}

Status Bad(std::string_view what, std::string_view payload) {
  std::string snippet(payload.substr(0, 64));
  return Status::InvalidArgument("heartbeat: " + std::string(what), "'" + snippet + "'");
}

}  // namespace

std::string HeartbeatSubject(std::string_view cluster_id, std::string_view group) {
  std::string s = "_STAN.ft.";
  s.append(cluster_id);
  s.push_back('.');
  s.append(group);
  return s;
}

std::string EncodeHeartbeat(const Heartbeat& hb) {
  nlohmann::json j = {{"v", 1},
                      {"name", hb.name},
                      {"id", InstanceToHex(hb.instance)},
                      {"role", RoleName(hb.role)},
                      {"epoch", hb.epoch},
                      {"seq", hb.seq}};
  return j.dump();
}

Result<Heartbeat> DecodeHeartbeat(std::string_view payload) {
  nlohmann::json j = nlohmann::json::parse(payload, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Bad("not a JSON object", payload);
  auto v = j.find("v");
  if (v == j.end() || !v->is_number_unsigned() || v->get<uint64_t>() != 1) {
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
  return hb;
}

}  // namespace tandem::ft
