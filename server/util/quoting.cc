// quoting.cc: the output forms of untrusted bytes (see quoting.h).
#include "server/util/quoting.h"

#include <utility>

namespace tandem::server {
namespace {

constexpr char kHex[] = "0123456789abcdef";

void AppendHex(std::string* out, unsigned char c) {
  out->push_back(kHex[c >> 4]);
  out->push_back(kHex[c & 0xf]);
}

// The C escape of `c`, or nullptr when it has none.
const char* CEscape(unsigned char c) {
  static constexpr std::pair<unsigned char, const char*> kEscapes[] = {
      {'\r', "\\r"}, {'\n', "\\n"}, {'\t', "\\t"}, {'"', "\\\""}, {'\\', "\\\\"}};
  for (const auto& [from, to] : kEscapes) {
    if (c == from) return to;
  }
  return nullptr;
}

}  // namespace

std::string Quote(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += "\\x";
      AppendHex(&out, static_cast<unsigned char>(c));
    } else {
      out += c;
    }
  }
  return out + "\"";
}

void AppendCEscaped(std::string* out, std::string_view bytes) {
  out->push_back('"');
  for (char ch : bytes) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (const char* esc = CEscape(c)) {
      out->append(esc);
    } else if (c < 0x20 || c >= 0x7f) {
      out->append("\\x");
      AppendHex(out, c);
    } else {
      out->push_back(ch);
    }
  }
  out->push_back('"');
}

std::string QuoteHexEscaped(std::string_view bytes, size_t max) {
  std::string out = "\"";
  for (size_t i = 0; i < bytes.size() && i < max; ++i) {
    const unsigned char c = static_cast<unsigned char>(bytes[i]);
    if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
      out += "\\x";
      AppendHex(&out, c);
    } else {
      out += static_cast<char>(c);
    }
  }
  if (bytes.size() > max) out += "...";
  out += '"';
  return out;
}

std::string JsonEscape(std::string_view text) {
  std::string out;
  for (char ch : text) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c < 0x20) {
      out += "\\u00";
      AppendHex(&out, c);
    } else {
      out += ch;
    }
  }
  return out;
}

}  // namespace tandem::server
