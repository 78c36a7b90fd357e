// json_utf8.h: reading client JSON as leniently as nats-server does. Go's encoding/json, which
// nats-server parses CONNECT with, accepts strings that are not valid UTF-8 and turns each byte
// that is not part of a valid sequence, and each \u escape of a lone surrogate, into U+FFFD.
// nlohmann::json refuses such input outright and has no option to repair it while parsing (its
// error_handler_t::replace applies to dump() only), hence this small pass before the parse.
//
// Thread safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace tandem::server {

// `json` with every invalid UTF-8 byte replaced by U+FFFD (EF BF BD) and every \u escape of a
// lone surrogate replaced by \ufffd, or nullopt when there is nothing to replace (the common
// case, which costs one scan and no copy). Bytes outside strings are treated alike: the parser
// rejects them either way.
std::optional<std::string> RepairJsonUtf8(std::string_view json);

}  // namespace tandem::server
