// partitions.cc: channel ownership, the partitioning message codec and the overlap check (see
// partitions.h). The CtrlMsg envelope is the generated protobuf class; the channel list inside
// Data is the reference's own length-prefixed layout, encoded here by hand (no library knows it).
#include "server/stan/partitions.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "server/bus/subject.h"
#include "server/stan/stan_protocol.pb.h"

namespace tandem::server {
namespace {

constexpr int32_t kPartitioningType = 4;  // the reference's CtrlMsg_Partitioning
// A request's Data stays well under any server's max_payload (nats-server's default is 1 MB);
// the receiver checks each request on its own, so splitting changes nothing for it.
constexpr size_t kMaxListBytes = 60 * 1024;

std::vector<std::string_view> Tokens(std::string_view s) {
  std::vector<std::string_view> out;
  SubjectTokenizer t(s);
  for (std::string_view tok; t.Next(&tok);) out.push_back(tok);
  return out;
}

}  // namespace

// --- ownership -----------------------------------------------------------------------------------

bool PatternsOverlap(std::string_view a, std::string_view b) {
  const auto ta = Tokens(a), tb = Tokens(b);
  size_t i = 0;
  for (; i < ta.size() && i < tb.size(); ++i) {
    // '>' matches one or more tokens: the other needs a token here, which it has.
    if (ta[i] == ">" || tb[i] == ">") return true;
    if (ta[i] != "*" && tb[i] != "*" && ta[i] != tb[i]) return false;
  }
  return i == ta.size() && i == tb.size();
}

bool ChannelOwnership::Owns(std::string_view channel) const {
  for (const std::string& p : patterns_) {
    if (SubjectMatches(p, channel)) return true;
  }
  return false;
}

std::string ChannelOwnership::FirstConflict(const std::vector<std::string>& others) const {
  for (const std::string& o : others) {
    for (const std::string& p : patterns_) {
      if (PatternsOverlap(o, p)) return o;
    }
  }
  return "";
}

// --- codec ---------------------------------------------------------------------------------------

std::string EncodePartitionMsg(const PartitionMsg& m) {
  pb::CtrlMsg msg;
  msg.set_msgtype(kPartitioningType);
  msg.set_serverid(m.server_id);
  msg.set_data(m.data);
  return msg.SerializeAsString();
}

bool DecodePartitionMsg(std::string_view payload, PartitionMsg* out) {
  pb::CtrlMsg msg;
  if (payload.empty() || !msg.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
    return false;
  }
  out->server_id = msg.serverid();
  out->data = msg.data();
  return true;
}

bool EncodeChannelLists(const std::vector<std::string>& channels, size_t max_data,
                        std::vector<std::string>* out) {
  out->clear();
  std::string cur;
  for (const std::string& c : channels) {
    const size_t need = 2 + c.size();
    if (c.size() > 0xFFFF || need > max_data) return false;
    if (cur.size() + need > max_data) out->push_back(std::move(cur)), cur.clear();
    cur.push_back(static_cast<char>(c.size() & 0xFF));  // little-endian, as the reference
    cur.push_back(static_cast<char>(c.size() >> 8));
    cur.append(c);
  }
  if (!cur.empty()) out->push_back(std::move(cur));
  return true;
}

bool DecodeChannelList(std::string_view data, std::vector<std::string>* out) {
  out->clear();
  size_t pos = 0;
  while (pos < data.size()) {
    if (pos + 2 > data.size()) return false;
    const size_t len = static_cast<uint8_t>(data[pos]) | (static_cast<uint8_t>(data[pos + 1]) << 8);
    pos += 2;
    if (pos + len > data.size()) return false;
    out->emplace_back(data.substr(pos, len));
    pos += len;
  }
  return true;
}

// --- the check -----------------------------------------------------------------------------------

Partitions::Partitions(uv_loop_t* loop, Bus* bus, Options options)
    : bus_(bus),
      options_(std::move(options)),
      ownership_(options_.channels),
      subject_("_STAN.part." + options_.cluster_id),
      timers_(loop) {
  // The inbox's random tail makes the id unique; the group name lets members of one group
  // recognise each other.
  const std::string inbox = bus_->NewInbox();
  const std::string unique = inbox.substr(inbox.rfind('.') + 1);
  group_prefix_ = options_.group.empty() ? "" : options_.group + "@";
  server_id_ = group_prefix_ + unique;
}

Partitions::~Partitions() { Stop(); }

void Partitions::Start() {
  list_sid_ = bus_->Subscribe(subject_, "", [this](const InboundMsg& m) { OnRequest(m); });
  inbox_ = bus_->NewInbox();
  inbox_sid_ = bus_->Subscribe(inbox_, "", [this](const InboundMsg& m) { OnReply(m); });
  spdlog::info("partitioning: this group owns the channels {} (id {})",
               fmt::join(options_.channels, ", "), server_id_);
}

void Partitions::Stop() {
  if (stopped_) return;
  stopped_ = true;
  if (list_sid_ != 0) bus_->Unsubscribe(list_sid_);
  if (inbox_sid_ != 0) bus_->Unsubscribe(inbox_sid_);
  list_sid_ = inbox_sid_ = 0;
  timers_.Cancel(&quiet_timer_);
  timers_.Close();
  waiting_.clear();
}

void Partitions::Check(std::function<void(const Status&)> done) {
  if (stopped_) return;
  waiting_.push_back(std::move(done));
  SendList();
  timers_.Cancel(&quiet_timer_);
  quiet_timer_ = timers_.AddAfter(options_.wait_ms, [this] {
    quiet_timer_ = 0;
    EndRound(Status::OK());
  });
}

void Partitions::SendList() {
  std::vector<std::string> lists;
  EncodeChannelLists(options_.channels, kMaxListBytes, &lists);  // names were checked at load
  for (std::string& data : lists) {
    bus_->Publish(subject_, inbox_, EncodePartitionMsg({server_id_, std::move(data)}));
  }
}

void Partitions::OnReply(const InboundMsg& m) {
  if (waiting_.empty()) return;  // a late answer to a round already over
  PartitionMsg reply;
  if (!DecodePartitionMsg(m.payload, &reply)) {
    return EndRound(Status::InvalidArgument("partitioning: cannot decode a reply on " + inbox_));
  }
  if (reply.data.empty()) {
    // Silence is what ends a round: wait again after each answer.
    timers_.Cancel(&quiet_timer_);
    quiet_timer_ = timers_.AddAfter(options_.wait_ms, [this] {
      quiet_timer_ = 0;
      EndRound(Status::OK());
    });
    return;
  }
  EndRound(Status::InvalidArgument(
      fmt::format("partitioning: channel \"{}\" causes a conflict with the channels of server "
                  "\"{}\" (limits.channels)",
                  reply.data, reply.server_id)));
}

void Partitions::EndRound(const Status& s) {
  timers_.Cancel(&quiet_timer_);
  auto waiting = std::move(waiting_);
  waiting_.clear();
  for (auto& done : waiting) done(s);
}

void Partitions::OnRequest(const InboundMsg& m) {
  if (m.payload.empty() || m.reply.empty()) return;
  PartitionMsg req;
  std::vector<std::string> theirs;
  if (!DecodePartitionMsg(m.payload, &req) || !DecodeChannelList(req.data, &theirs)) {
    spdlog::warn("partitioning: ignored an undecodable channel list on {}", subject_);
    return;
  }
  if (req.server_id == server_id_) return;                                           // our own
  if (!group_prefix_.empty() && req.server_id.rfind(group_prefix_, 0) == 0) return;  // our group
  std::string conflict = ownership_.FirstConflict(theirs);
  if (!conflict.empty()) {
    spdlog::warn(
        "partitioning: server {} announced channel \"{}\", which this group owns too; "
        "told it so",
        req.server_id, conflict);
  }
  bus_->Publish(m.reply, "", EncodePartitionMsg({server_id_, std::move(conflict)}));
}

}  // namespace tandem::server
