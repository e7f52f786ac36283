#ifndef IDEM_SERVICE_FILES_RELATIVE_PATH_H_
#define IDEM_SERVICE_FILES_RELATIVE_PATH_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace idem::files {

// A caller's path, checked without touching the file system.
struct RelativePath {
  // The path as the caller sent it, escaped and shortened for messages.
  std::string display;
  // At least one component; none is empty, "." or "..".
  std::vector<std::string> components;

  const std::string& name() const { return components.back(); }
  // The components joined by '/' (what the caller sent, minus "." parts).
  std::string Joined() const;
  // The folder part joined by '/'; empty for a file directly in the root.
  std::string ParentJoined() const;
};

// Checks `raw`, the value of request field `field`, before any I/O:
// - PERMISSION_DENIED for an absolute path or a ".." component (a way out of
//   the root; ".." is refused even where it would stay inside, since a caller
//   never needs it and a lexical rule cannot be fooled);
// - INVALID_ARGUMENT for an empty path, a NUL byte, an empty component
//   ("a//b", "a/"), a component longer than NAME_MAX, a path of PATH_MAX bytes
//   or more, or a component starting with the reserved temporary-file prefix.
// "." components are dropped.
absl::StatusOr<RelativePath> ParseRelativePath(absl::string_view field,
                                               absl::string_view raw);

}  // namespace idem::files

#endif  // IDEM_SERVICE_FILES_RELATIVE_PATH_H_
