// Fuzzes path resolution (service/files/relative_path.h): the input is a
// path as a caller sends it. Whatever it is, ParseRelativePath must agree
// with a reference written here from the header's rules, and what it accepts
// must be safe to open beneath the storage root:
// - never an absolute path, a ".." component, a NUL byte, an empty
//   component, a component over NAME_MAX or a path of PATH_MAX bytes or more,
//   or the temporary-file prefix (with the documented status codes);
// - the components are the input's, minus "." ones, and join back to it;
// - the display text stays short and holds no raw control bytes.
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "service/files/file_names.h"
#include "service/files/relative_path.h"

namespace {

[[noreturn]] void Fail(const char* what, absl::string_view raw) {
  std::fprintf(stderr, "fuzz_relative_path: %s (input of %zu bytes)\n", what,
               raw.size());
  std::abort();
}

// The expected status code, from the header's rules in the order the
// header lists them (the first broken rule decides).
absl::StatusCode Expected(absl::string_view raw,
                          std::vector<std::string>* components) {
  using absl::StatusCode;
  if (raw.empty()) return StatusCode::kInvalidArgument;
  if (raw.find('\0') != absl::string_view::npos) {
    return StatusCode::kInvalidArgument;
  }
  if (raw.size() >= PATH_MAX) return StatusCode::kInvalidArgument;
  if (raw.front() == '/') return StatusCode::kPermissionDenied;
  size_t start = 0;
  while (true) {
    size_t end = raw.find('/', start);
    absl::string_view part = raw.substr(start, end == absl::string_view::npos
                                                   ? absl::string_view::npos
                                                   : end - start);
    if (part.empty()) return StatusCode::kInvalidArgument;
    if (part == "..") return StatusCode::kPermissionDenied;
    if (part != ".") {
      if (part.size() > NAME_MAX) return StatusCode::kInvalidArgument;
      if (absl::StartsWith(part, idem::files::kTempPrefix)) {
        return StatusCode::kInvalidArgument;
      }
      components->emplace_back(part);
    }
    if (end == absl::string_view::npos) break;
    start = end + 1;
  }
  if (components->empty()) return StatusCode::kInvalidArgument;
  return StatusCode::kOk;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view raw(reinterpret_cast<const char*>(data), size);
  auto path = idem::files::ParseRelativePath("source_path", raw);

  std::vector<std::string> expected_components;
  absl::StatusCode expected = Expected(raw, &expected_components);
  if (path.status().code() != expected) Fail("unexpected status code", raw);
  if (!path.ok()) {
    std::string message(path.status().message());
    if (!absl::StartsWith(message, "source_path '")) {
      Fail("the message does not name the field", raw);
    }
    // 120 input bytes, each escaped to at most 4 characters, plus the words.
    if (message.size() > 700) Fail("the message is too long", raw);
    for (char c : message) {
      if (static_cast<unsigned char>(c) < 0x20) {
        Fail("the message holds a raw control byte", raw);
      }
    }
    return 0;
  }

  // Accepted: safe by construction.
  if (raw.front() == '/') Fail("accepted an absolute path", raw);
  if (raw.find('\0') != absl::string_view::npos) Fail("accepted a NUL", raw);
  if (raw.size() >= PATH_MAX) Fail("accepted an over-long path", raw);
  if (path->components != expected_components) {
    Fail("components differ from the input's", raw);
  }
  for (const std::string& part : path->components) {
    if (part.empty() || part == "." || part == "..") {
      Fail("accepted an empty, '.' or '..' component", raw);
    }
    if (part.size() > NAME_MAX) Fail("accepted an over-long name", raw);
    if (part.find('/') != std::string::npos) Fail("a component has '/'", raw);
    if (absl::StartsWith(part, idem::files::kTempPrefix)) {
      Fail("accepted the temporary-file prefix", raw);
    }
  }
  std::string joined = path->Joined();
  if (joined.size() > raw.size()) Fail("Joined() grew", raw);
  std::string parent = path->ParentJoined();
  std::string rebuilt =
      parent.empty() ? path->name() : parent + "/" + path->name();
  if (rebuilt != joined) Fail("ParentJoined() + name() != Joined()", raw);
  // Without "." components the input is exactly what was joined.
  if (raw.find("./") == absl::string_view::npos && raw != "." &&
      !absl::EndsWith(raw, "/.") && joined != raw) {
    Fail("Joined() differs from a path without '.' components", raw);
  }
  return 0;
}
