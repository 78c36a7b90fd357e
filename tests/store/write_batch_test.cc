// write_batch_test.cc: a WriteBatch holds one typed op per call, in call order, with every
// field as given; message bytes and client ids read back from the batch's buffer.
#include <string>
#include <variant>

#include <doctest/doctest.h>

#include "store/store.h"

namespace tandem::store {
namespace {

template <typename T>
const T& OpAt(const WriteBatch& b, size_t i) {
  REQUIRE(i < b.ops().size());
  REQUIRE(std::holds_alternative<T>(b.ops()[i]));
  return std::get<T>(b.ops()[i]);
}

}  // namespace

TEST_SUITE("store") {
  TEST_CASE("store: a WriteBatch of every op kind reads back in order") {
    WriteBatch b;
    ServerRecord sv;
    sv.cluster_id = "c1";
    sv.epoch = 7;
    b.PutServer(sv);
    ChannelRecord ch;
    ch.id = 3;
    ch.name = "orders";
    b.CreateChannel(ch);
    b.DeleteChannel(4);
    b.AppendMsg(3, 10, 1000, "hello");
    b.ExpireMsgs(3, 2000);
    ClientRecord cl;
    cl.client_id = "me";
    cl.hb_inbox = "_INBOX.hb";
    b.PutClient(cl);
    b.DeleteClient("gone");
    SubRecord sub;
    sub.id = 5;
    sub.channel_id = 3;
    sub.client_id = "me";
    b.PutSub(sub);
    b.DeleteSub(6);
    b.UpdateLastSent(5, 11);
    b.AddPending(5, 12, 2);
    b.RemovePending(5, 13);
    b.SetDeliveries(5, 14, 3);

    REQUIRE(b.size() == 13);
    CHECK(std::variant_size_v<WriteBatch::Op> == 13);  // a new kind needs a line here
    CHECK(b.bytes() == std::string("hellogone").size());
    CHECK(OpAt<batch_op::PutServer>(b, 0).record->cluster_id == "c1");
    CHECK(OpAt<batch_op::PutServer>(b, 0).record->epoch == 7);
    CHECK(OpAt<batch_op::CreateChannel>(b, 1).record->id == 3);
    CHECK(OpAt<batch_op::CreateChannel>(b, 1).record->name == "orders");
    CHECK(OpAt<batch_op::DeleteChannel>(b, 2).channel_id == 4);
    const auto& msg = OpAt<batch_op::AppendMsg>(b, 3);
    CHECK(msg.channel_id == 3);
    CHECK(msg.seq == 10);
    CHECK(msg.timestamp_ns == 1000);
    CHECK(b.data(msg.data) == "hello");
    CHECK(OpAt<batch_op::ExpireMsgs>(b, 4).channel_id == 3);
    CHECK(OpAt<batch_op::ExpireMsgs>(b, 4).before_ns == 2000);
    CHECK(OpAt<batch_op::PutClient>(b, 5).record->client_id == "me");
    CHECK(OpAt<batch_op::PutClient>(b, 5).record->hb_inbox == "_INBOX.hb");
    CHECK(b.data(OpAt<batch_op::DeleteClient>(b, 6).client_id) == "gone");
    CHECK(OpAt<batch_op::PutSub>(b, 7).record->id == 5);
    CHECK(OpAt<batch_op::PutSub>(b, 7).record->client_id == "me");
    CHECK(OpAt<batch_op::DeleteSub>(b, 8).sub_id == 6);
    CHECK(OpAt<batch_op::UpdateLastSent>(b, 9).sub_id == 5);
    CHECK(OpAt<batch_op::UpdateLastSent>(b, 9).seq == 11);
    CHECK(OpAt<batch_op::AddPending>(b, 10).sub_id == 5);
    CHECK(OpAt<batch_op::AddPending>(b, 10).seq == 12);
    CHECK(OpAt<batch_op::AddPending>(b, 10).deliveries == 2);
    CHECK(OpAt<batch_op::RemovePending>(b, 11).sub_id == 5);
    CHECK(OpAt<batch_op::RemovePending>(b, 11).seq == 13);
    CHECK(OpAt<batch_op::SetDeliveries>(b, 12).seq == 14);
    CHECK(OpAt<batch_op::SetDeliveries>(b, 12).deliveries == 3);
  }

  TEST_CASE("store: a WriteBatch keeps its own copy of a record") {
    WriteBatch b;
    ClientRecord cl;
    cl.client_id = "before";
    b.PutClient(cl);
    cl.client_id = "after";
    CHECK(OpAt<batch_op::PutClient>(b, 0).record->client_id == "before");
  }
}

}  // namespace tandem::store
