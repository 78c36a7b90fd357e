// stan_codec.cc: hand-written protobuf encoding and in-place decoding of the hot streaming
// messages (PubMsg, Ack, MsgProto, PubAck). Wire format: each field is a varint key
// (field_number << 3 | wire_type) followed by a varint (type 0), 8 bytes (type 1), a varint
// length and that many bytes (type 2) or 4 bytes (type 5).
#include "server/stan/stan_codec.h"

#include <cstring>

namespace tandem::server {
namespace {

enum WireType : int { kVarint = 0, kFixed64 = 1, kLen = 2, kFixed32 = 5 };

// Walks the fields of one message. Next() returns false at the end or on malformed input;
// ok() tells which.
class FieldReader {
 public:
  explicit FieldReader(std::string_view buf)
      : p_(reinterpret_cast<const uint8_t*>(buf.data())), end_(p_ + buf.size()) {}

  bool Next() {
    if (p_ == end_) return false;
    uint64_t key;
    if (!ReadVarint(&key)) return Fail();
    field_ = key >> 3;
    type_ = static_cast<int>(key & 7);
    if (field_ == 0) return Fail();
    switch (type_) {
      case kVarint:
        return ReadVarint(&value_) || Fail();
      case kFixed64:
        return Skip(8) || Fail();
      case kFixed32:
        return Skip(4) || Fail();
      case kLen: {
        uint64_t n;
        if (!ReadVarint(&n) || n > static_cast<uint64_t>(end_ - p_)) return Fail();
        bytes_ = std::string_view(reinterpret_cast<const char*>(p_), n);
        p_ += n;
        return true;
      }
      default:
        return Fail();  // groups (3, 4) and reserved types
    }
  }
  bool ok() const { return ok_; }
  uint64_t field() const { return field_; }
  int type() const { return type_; }
  uint64_t value() const { return value_; }
  std::string_view bytes() const { return bytes_; }
  bool Fail() {
    ok_ = false;
    return false;
  }

 private:
  bool ReadVarint(uint64_t* v) {
    uint64_t result = 0;
    for (int shift = 0; shift < 70 && p_ < end_; shift += 7) {
      uint8_t b = *p_++;
      result |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) {
        *v = result;
        return true;
      }
    }
    return false;
  }
  bool Skip(size_t n) {
    if (static_cast<size_t>(end_ - p_) < n) return false;
    p_ += n;
    return true;
  }

  const uint8_t* p_;
  const uint8_t* const end_;
  bool ok_ = true;
  uint64_t field_ = 0;
  int type_ = 0;
  uint64_t value_ = 0;
  std::string_view bytes_;
};

void AppendKey(std::string* out, int field, WireType type) {
  AppendVarint(out, (static_cast<uint64_t>(field) << 3) | type);
}

void AppendBytesField(std::string* out, int field, std::string_view v) {
  if (v.empty()) return;
  AppendKey(out, field, kLen);
  AppendVarint(out, v.size());
  out->append(v);
}

void AppendVarintField(std::string* out, int field, uint64_t v) {
  if (v == 0) return;
  AppendKey(out, field, kVarint);
  AppendVarint(out, v);
}

size_t BytesFieldSize(std::string_view v) {
  return v.empty() ? 0 : 1 + VarintSize(v.size()) + v.size();
}
size_t VarintFieldSize(uint64_t v) { return v == 0 ? 0 : 1 + VarintSize(v); }

}  // namespace

void AppendVarint(std::string* out, uint64_t v) {
  if (v < 0x80) {  // field keys, most lengths
    out->push_back(static_cast<char>(v));
    return;
  }
  // The bytes are gathered in registers and stored as whole words: built byte by byte on the
  // stack, the append's 8-byte load of them stalled on store forwarding (a timestamp is 9 bytes).
  uint64_t words[2] = {0, 0};
  size_t n = 0;
  while (v >= 0x80) {
    words[n / 8] |= ((v & 0x7f) | 0x80) << (8 * (n % 8));
    v >>= 7;
    ++n;
  }
  words[n / 8] |= v << (8 * (n % 8));
  ++n;
  char buf[16];
  std::memcpy(buf, words, sizeof(words));  // little-endian: byte i of the varint is buf[i]
  out->append(buf, n);
}

size_t VarintSize(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

bool DecodePubMsg(std::string_view buf, PubMsgView* out) {
  *out = PubMsgView{};
  FieldReader r(buf);
  while (r.Next()) {
    std::string_view* dst = nullptr;
    switch (r.field()) {
      case 1:
        dst = &out->client_id;
        break;
      case 2:
        dst = &out->guid;
        break;
      case 3:
        dst = &out->subject;
        break;
      case 4:
        dst = &out->reply;
        break;
      case 5:
        dst = &out->data;
        break;
      case 6:
        dst = &out->conn_id;
        break;
      case 10:
        if (r.type() != kLen) return false;
        continue;
      default:
        continue;
    }
    if (r.type() != kLen) return false;
    *dst = r.bytes();
  }
  return r.ok();
}

bool DecodeAck(std::string_view buf, AckView* out) {
  *out = AckView{};
  FieldReader r(buf);
  while (r.Next()) {
    if (r.field() == 1) {
      if (r.type() != kLen) return false;
      out->subject = r.bytes();
    } else if (r.field() == 2) {
      if (r.type() != kVarint) return false;
      out->sequence = r.value();
    }
  }
  return r.ok();
}

void AppendMsgProto(std::string* out, uint64_t sequence, std::string_view subject,
                    std::string_view reply, std::string_view data, int64_t timestamp_ns) {
  out->reserve(out->size() + MsgProtoSize(sequence, subject, reply, data, timestamp_ns));
  AppendVarintField(out, 1, sequence);
  AppendBytesField(out, 2, subject);
  AppendBytesField(out, 3, reply);
  AppendBytesField(out, 4, data);
  AppendVarintField(out, 5, static_cast<uint64_t>(timestamp_ns));
}

size_t MsgProtoSize(uint64_t sequence, std::string_view subject, std::string_view reply,
                    std::string_view data, int64_t timestamp_ns) {
  return VarintFieldSize(sequence) + BytesFieldSize(subject) + BytesFieldSize(reply) +
         BytesFieldSize(data) + VarintFieldSize(static_cast<uint64_t>(timestamp_ns));
}

std::string WithRedelivery(std::string_view stored, uint32_t count) {
  std::string out;
  out.reserve(stored.size() + 2 + 1 + VarintSize(count));
  out.append(stored);
  AppendKey(&out, 6, kVarint);
  out.push_back(1);
  AppendKey(&out, 7, kVarint);
  AppendVarint(&out, count);
  return out;
}

std::string EncodePubAck(std::string_view guid, std::string_view error) {
  std::string out;
  out.reserve(BytesFieldSize(guid) + BytesFieldSize(error));
  AppendPubAck(&out, guid, error);
  return out;
}

void AppendPubAck(std::string* out, std::string_view guid, std::string_view error) {
  AppendBytesField(out, 1, guid);
  AppendBytesField(out, 2, error);
}

}  // namespace tandem::server
