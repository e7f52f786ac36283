#ifndef IDEM_SERVICE_API_TRACE_CONTEXT_H_
#define IDEM_SERVICE_API_TRACE_CONTEXT_H_

#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace idem::api {

// The trace id (32 lower-case hex digits) of a W3C Trace Context
// `traceparent` header, "version-traceid-parentid-flags", e.g.
// "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"; nullopt for a
// header that is not well formed, which the recommendation says to ignore:
// anything but lower-case hex, an all-zero id, version ff, or, for version
// 00, anything after the flags. A later version may add fields after the
// flags ("-" first).
std::optional<std::string> TraceIdOf(absl::string_view traceparent);

}  // namespace idem::api

#endif  // IDEM_SERVICE_API_TRACE_CONTEXT_H_
