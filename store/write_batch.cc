// write_batch.cc: the WriteBatch methods; each appends one Op (see store.h). Records are kept
// in shared_ptr<const void> so that Op stays one small type; SqliteStore casts them back by
// OpType.
#include <memory>
#include <string>
#include <utility>

#include "store/store.h"

namespace tandem::store {

void WriteBatch::PutServer(const ServerRecord& server) {
  Op op;
  op.type = OpType::kPutServer;
  op.record = std::make_shared<const ServerRecord>(server);
  ops_.push_back(std::move(op));
}

void WriteBatch::CreateChannel(const ChannelRecord& channel) {
  Op op;
  op.type = OpType::kCreateChannel;
  op.channel_id = channel.id;
  op.record = std::make_shared<const ChannelRecord>(channel);
  ops_.push_back(std::move(op));
}

void WriteBatch::DeleteChannel(int64_t channel_id) {
  Op op;
  op.type = OpType::kDeleteChannel;
  op.channel_id = channel_id;
  ops_.push_back(std::move(op));
}

void WriteBatch::AppendMsg(int64_t channel_id, uint64_t seq, int64_t timestamp_ns,
                           std::string data) {
  Op op;
  op.type = OpType::kAppendMsg;
  op.channel_id = channel_id;
  op.seq = seq;
  op.time_ns = timestamp_ns;
  op.data = std::move(data);
  ops_.push_back(std::move(op));
}

void WriteBatch::ExpireMsgs(int64_t channel_id, int64_t before_ns) {
  Op op;
  op.type = OpType::kExpireMsgs;
  op.channel_id = channel_id;
  op.time_ns = before_ns;
  ops_.push_back(std::move(op));
}

void WriteBatch::PutClient(const ClientRecord& client) {
  Op op;
  op.type = OpType::kPutClient;
  op.data = client.client_id;
  op.record = std::make_shared<const ClientRecord>(client);
  ops_.push_back(std::move(op));
}

void WriteBatch::DeleteClient(const std::string& client_id) {
  Op op;
  op.type = OpType::kDeleteClient;
  op.data = client_id;
  ops_.push_back(std::move(op));
}

void WriteBatch::PutSub(const SubRecord& sub) {
  Op op;
  op.type = OpType::kPutSub;
  op.sub_id = sub.id;
  op.channel_id = sub.channel_id;
  op.record = std::make_shared<const SubRecord>(sub);
  ops_.push_back(std::move(op));
}

void WriteBatch::DeleteSub(uint64_t sub_id) {
  Op op;
  op.type = OpType::kDeleteSub;
  op.sub_id = sub_id;
  ops_.push_back(std::move(op));
}

void WriteBatch::UpdateLastSent(uint64_t sub_id, uint64_t last_sent) {
  Op op;
  op.type = OpType::kUpdateLastSent;
  op.sub_id = sub_id;
  op.seq = last_sent;
  ops_.push_back(std::move(op));
}

void WriteBatch::AddPending(uint64_t sub_id, uint64_t seq) {
  Op op;
  op.type = OpType::kAddPending;
  op.sub_id = sub_id;
  op.seq = seq;
  ops_.push_back(std::move(op));
}

void WriteBatch::RemovePending(uint64_t sub_id, uint64_t seq) {
  Op op;
  op.type = OpType::kRemovePending;
  op.sub_id = sub_id;
  op.seq = seq;
  ops_.push_back(std::move(op));
}

}  // namespace tandem::store
