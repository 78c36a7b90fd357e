// stan_codec.h: the protobuf wire encoding of the streaming protocol (proto3: default values
// are not written, fields may come in any order, unknown fields are skipped).
//
// The hot path (every publish, delivery and ack) uses the hand-written functions here, which
// decode into views of the input buffer and encode without building message objects. Everything
// else goes through the protoc-generated lite classes (stan_protocol.pb.h) with DecodeProto and
// EncodeProto. Both produce the same bytes; tests/server/stan/stan_codec_test.cc checks that
// against hand-composed hex examples of each message and against the generated classes. The
// messages and the field numbers the code uses are listed in server/stan/PROTOCOL.md.
//
// Redelivery never re-encodes: a stored MsgProto gets fields 6 (redelivered) and 7
// (redeliveryCount) appended, and proto3 parsers keep the last value of a repeated scalar.
//
// Ownership: views returned by the decoders point into the decoded buffer and live no longer
// than it. Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace tandem::server {

// A PubMsg decoded in place.
struct PubMsgView {
  std::string_view client_id;  // 1
  std::string_view guid;       // 2
  std::string_view subject;    // 3
  std::string_view reply;      // 4
  std::string_view data;       // 5
  std::string_view conn_id;    // 6
};

// An Ack decoded in place.
struct AckView {
  std::string_view subject;  // 1
  uint64_t sequence = 0;     // 2
};

// False when `buf` is not a well-formed message (truncated varint or length, field number 0,
// group wire types, or a known field with the wrong wire type). Unknown fields are skipped.
bool DecodePubMsg(std::string_view buf, PubMsgView* out);
bool DecodeAck(std::string_view buf, AckView* out);

// Appends MsgProto{1 sequence, 2 subject, 3 reply, 4 data, 5 timestamp} to `out`, omitting
// zero and empty values as proto3 does. This is the stored form of a message.
void AppendMsgProto(std::string* out, uint64_t sequence, std::string_view subject,
                    std::string_view reply, std::string_view data, int64_t timestamp_ns);
// The size AppendMsgProto will append.
size_t MsgProtoSize(uint64_t sequence, std::string_view subject, std::string_view reply,
                    std::string_view data, int64_t timestamp_ns);

// `stored` followed by field 6 = true and field 7 = count.
std::string WithRedelivery(std::string_view stored, uint32_t count);

// PubAck{1 guid, 2 error}.
std::string EncodePubAck(std::string_view guid, std::string_view error);
void AppendPubAck(std::string* out, std::string_view guid, std::string_view error);

// Generated classes: ParseFromArray / SerializeAsString wrappers.
template <typename M>
bool DecodeProto(std::string_view buf, M* m) {
  return m->ParseFromArray(buf.data(), static_cast<int>(buf.size()));
}
template <typename M>
std::string EncodeProto(const M& m) {
  return m.SerializeAsString();
}

// Low-level helpers, exposed for tests and other encoders.
void AppendVarint(std::string* out, uint64_t v);
size_t VarintSize(uint64_t v);

}  // namespace tandem::server
