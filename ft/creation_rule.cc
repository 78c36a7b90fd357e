// creation_rule.cc: whether a lock attempt may create the store (see creation_rule.h).
#include "ft/creation_rule.h"

#include <fmt/format.h>

namespace tandem::ft {

CreationDecision DecideCreation(const Result<std::string>& trace, const std::string& group_store_id,
                                bool wait_for_group) {
  CreationDecision d;
  if (!trace.ok()) {
    d.no_create_reason = trace.status().ToString();
  } else if (!trace->empty()) {
    d.no_create_reason = fmt::format(
        "{} shows that a store lived here; it was deleted or moved (restore it, or remove "
        "what is left to start a new, empty store)",
        trace.value());
  } else if (!group_store_id.empty()) {
    d.no_create_reason = fmt::format("the group already serves store {}", group_store_id);
  } else {
    d.wait_for_group = wait_for_group;
  }
  return d;
}

}  // namespace tandem::ft
