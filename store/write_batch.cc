// write_batch.cc: the WriteBatch methods; each appends one batch_op struct (see store.h).
// Records are shared, immutable copies; message bytes and client ids go into the batch's one
// byte buffer, named by a DataRef.
#include <memory>
#include <string>
#include <string_view>

#include "store/store.h"

namespace tandem::store {

batch_op::DataRef WriteBatch::AddData(std::string_view data) {
  batch_op::DataRef ref{bytes_.size(), data.size()};
  bytes_.append(data);
  return ref;
}

void WriteBatch::PutServer(const ServerRecord& server) {
  ops_.emplace_back(batch_op::PutServer{std::make_shared<const ServerRecord>(server)});
}

void WriteBatch::CreateChannel(const ChannelRecord& channel) {
  ops_.emplace_back(batch_op::CreateChannel{std::make_shared<const ChannelRecord>(channel)});
}

void WriteBatch::DeleteChannel(int64_t channel_id) {
  ops_.emplace_back(batch_op::DeleteChannel{channel_id});
}

void WriteBatch::AppendMsg(int64_t channel_id, uint64_t seq, int64_t timestamp_ns,
                           std::string_view data) {
  ops_.emplace_back(batch_op::AppendMsg{channel_id, seq, timestamp_ns, AddData(data)});
}

void WriteBatch::ExpireMsgs(int64_t channel_id, int64_t before_ns) {
  ops_.emplace_back(batch_op::ExpireMsgs{channel_id, before_ns});
}

void WriteBatch::PutClient(const ClientRecord& client) {
  ops_.emplace_back(batch_op::PutClient{std::make_shared<const ClientRecord>(client)});
}

void WriteBatch::DeleteClient(const std::string& client_id) {
  ops_.emplace_back(batch_op::DeleteClient{AddData(client_id)});
}

void WriteBatch::PutSub(const SubRecord& sub) {
  ops_.emplace_back(batch_op::PutSub{std::make_shared<const SubRecord>(sub)});
}

void WriteBatch::DeleteSub(uint64_t sub_id) { ops_.emplace_back(batch_op::DeleteSub{sub_id}); }

void WriteBatch::UpdateLastSent(uint64_t sub_id, uint64_t last_sent) {
  ops_.emplace_back(batch_op::UpdateLastSent{{sub_id, last_sent}});
}

void WriteBatch::AddPending(uint64_t sub_id, uint64_t seq, uint32_t deliveries) {
  ops_.emplace_back(batch_op::AddPending{{sub_id, seq}, deliveries});
}

void WriteBatch::SetDeliveries(uint64_t sub_id, uint64_t seq, uint32_t deliveries) {
  ops_.emplace_back(batch_op::SetDeliveries{{sub_id, seq}, deliveries});
}

void WriteBatch::RemovePending(uint64_t sub_id, uint64_t seq) {
  ops_.emplace_back(batch_op::RemovePending{{sub_id, seq}});
}

}  // namespace tandem::store
