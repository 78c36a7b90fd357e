// quoting.h: every way tandem writes untrusted bytes into text, one function per output form.
// They differ on purpose and must not be swapped: an error message of the configuration, a NATS
// protocol error line (two forms: the core parser's C escapes, the peer reader's hex escapes)
// and the inside of a JSON string.
//
// Thread safety: pure functions.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace tandem::server {

// `text` in double quotes, with `"` and `\` escaped and control bytes as \xNN (other bytes as
// they are): safe to put in a log line or an error message whatever the input held.
std::string Quote(std::string_view text);

// Appends `bytes` in double quotes with C escapes: \r \n \t \" \\, and \xNN for any other byte
// that is not printable ASCII (the core parser's error snippets).
void AppendCEscaped(std::string* out, std::string_view bytes);

// The first `max` bytes in double quotes, every byte that is not printable ASCII (and `"`, `\`)
// as \xNN, then "..." inside the quotes when `bytes` was longer (the peer reader's snippets).
std::string QuoteHexEscaped(std::string_view bytes, size_t max);

// `text` as the inside of a JSON string: `"` and `\` escaped, control bytes as \u00NN, every
// other byte (UTF-8 included) as it is.
std::string JsonEscape(std::string_view text);

}  // namespace tandem::server
