#include "service/files/relative_path.h"

#include <climits>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "service/common/error_reason.h"
#include "service/files/file_names.h"

namespace idem::files {
namespace {

// Enough of a path to recognise it; a 4 KiB name would drown the message.
constexpr size_t kDisplayBytes = 120;

std::string Display(absl::string_view raw) {
  std::string shown = absl::CEscape(raw.substr(0, kDisplayBytes));
  if (raw.size() > kDisplayBytes) absl::StrAppend(&shown, "...");
  return absl::StrCat("'", shown, "'");
}

}  // namespace

std::string RelativePath::Joined() const {
  return absl::StrJoin(components, "/");
}

std::string RelativePath::ParentJoined() const {
  return absl::StrJoin(components.begin(), components.end() - 1, "/");
}

absl::StatusOr<RelativePath> ParseRelativePath(absl::string_view field,
                                               absl::string_view raw) {
  RelativePath path;
  path.display = Display(raw);
  auto invalid = [&](absl::string_view why) {
    return Error(Reason::kRequestInvalid,
                 absl::StrCat(field, " ", path.display, " ", why));
  };
  if (raw.empty()) return invalid("is empty");
  if (raw.find('\0') != absl::string_view::npos) {
    return invalid("contains a NUL byte");
  }
  if (raw.size() >= PATH_MAX) {
    return invalid(absl::StrCat("is longer than ", PATH_MAX - 1, " bytes"));
  }
  if (raw.front() == '/') {
    return Error(
        Reason::kPathOutsideRoot,
        absl::StrCat(field, " ", path.display,
                     " is absolute; paths are relative to the storage root"));
  }
  for (absl::string_view part : absl::StrSplit(raw, '/')) {
    if (part.empty()) return invalid("has an empty component");
    if (part == ".") continue;
    if (part == "..") {
      return Error(
          Reason::kPathOutsideRoot,
          absl::StrCat(field, " ", path.display,
                       " contains '..'; paths may not leave their folder"));
    }
    if (part.size() > NAME_MAX) {
      return invalid(
          absl::StrCat("has a component longer than ", NAME_MAX, " bytes"));
    }
    if (absl::StartsWith(part, kTempPrefix)) {
      return invalid(absl::StrCat("uses the reserved prefix '", kTempPrefix,
                                  "' for temporary files"));
    }
    path.components.emplace_back(part);
  }
  if (path.components.empty()) return invalid("names no file");
  return path;
}

}  // namespace idem::files
