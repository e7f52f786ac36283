#include "service/api/trace_context.h"

namespace idem::api {
namespace {

bool IsLowerHex(absl::string_view text) {
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool AllZero(absl::string_view text) {
  return text.find_first_not_of('0') == absl::string_view::npos;
}

}  // namespace

std::optional<std::string> TraceIdOf(absl::string_view traceparent) {
  // version(2) - trace-id(32) - parent-id(16) - flags(2)
  constexpr size_t kLength = 55;
  if (traceparent.size() < kLength || traceparent[2] != '-' ||
      traceparent[35] != '-' || traceparent[52] != '-') {
    return std::nullopt;
  }
  const absl::string_view version = traceparent.substr(0, 2);
  const absl::string_view trace_id = traceparent.substr(3, 32);
  const absl::string_view parent_id = traceparent.substr(36, 16);
  const absl::string_view flags = traceparent.substr(53, 2);
  if (!IsLowerHex(version) || version == "ff" || !IsLowerHex(trace_id) ||
      AllZero(trace_id) || !IsLowerHex(parent_id) || AllZero(parent_id) ||
      !IsLowerHex(flags)) {
    return std::nullopt;
  }
  if (traceparent.size() > kLength &&
      (version == "00" || traceparent[kLength] != '-')) {
    return std::nullopt;
  }
  return std::string(trace_id);
}

}  // namespace idem::api
