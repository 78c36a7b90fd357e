// write_batch.cc: the WriteBatch methods; each appends one Op (see store.h). Records are kept
// in shared_ptr<const void> so that Op stays one small type; SqliteStore casts them back by
// OpType. Message bytes and client ids go into the batch's one byte buffer.
#include <memory>
#include <string>
#include <string_view>

#include "store/store.h"

namespace tandem::store {

WriteBatch::Op& WriteBatch::Add(OpType type) {
  Op& op = ops_.emplace_back();
  op.type = type;
  return op;
}

void WriteBatch::SetData(Op& op, std::string_view data) {
  op.data_offset = bytes_.size();
  op.data_size = data.size();
  bytes_.append(data);
}

void WriteBatch::PutServer(const ServerRecord& server) {
  Add(OpType::kPutServer).record = std::make_shared<const ServerRecord>(server);
}

void WriteBatch::CreateChannel(const ChannelRecord& channel) {
  Op& op = Add(OpType::kCreateChannel);
  op.channel_id = channel.id;
  op.record = std::make_shared<const ChannelRecord>(channel);
}

void WriteBatch::DeleteChannel(int64_t channel_id) {
  Add(OpType::kDeleteChannel).channel_id = channel_id;
}

void WriteBatch::AppendMsg(int64_t channel_id, uint64_t seq, int64_t timestamp_ns,
                           std::string_view data) {
  Op& op = Add(OpType::kAppendMsg);
  op.channel_id = channel_id;
  op.seq = seq;
  op.time_ns = timestamp_ns;
  SetData(op, data);
}

void WriteBatch::ExpireMsgs(int64_t channel_id, int64_t before_ns) {
  Op& op = Add(OpType::kExpireMsgs);
  op.channel_id = channel_id;
  op.time_ns = before_ns;
}

void WriteBatch::PutClient(const ClientRecord& client) {
  Add(OpType::kPutClient).record = std::make_shared<const ClientRecord>(client);
}

void WriteBatch::DeleteClient(const std::string& client_id) {
  SetData(Add(OpType::kDeleteClient), client_id);
}

void WriteBatch::PutSub(const SubRecord& sub) {
  Op& op = Add(OpType::kPutSub);
  op.sub_id = sub.id;
  op.channel_id = sub.channel_id;
  op.record = std::make_shared<const SubRecord>(sub);
}

void WriteBatch::DeleteSub(uint64_t sub_id) { Add(OpType::kDeleteSub).sub_id = sub_id; }

void WriteBatch::UpdateLastSent(uint64_t sub_id, uint64_t last_sent) {
  Op& op = Add(OpType::kUpdateLastSent);
  op.sub_id = sub_id;
  op.seq = last_sent;
}

void WriteBatch::AddPending(uint64_t sub_id, uint64_t seq) {
  Op& op = Add(OpType::kAddPending);
  op.sub_id = sub_id;
  op.seq = seq;
}

void WriteBatch::RemovePending(uint64_t sub_id, uint64_t seq) {
  Op& op = Add(OpType::kRemovePending);
  op.sub_id = sub_id;
  op.seq = seq;
}

}  // namespace tandem::store
