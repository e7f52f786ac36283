#ifndef IDEM_SERVICE_FILES_FILE_DIGEST_H_
#define IDEM_SERVICE_FILES_FILE_DIGEST_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace idem::files {

// What identifies a file's content: two files are the same when both agree.
struct FileDigest {
  std::string sha256_hex;  // lower-case
  uint64_t size = 0;

  bool operator==(const FileDigest& other) const {
    return size == other.size && sha256_hex == other.sha256_hex;
  }
};

// Hashes all of `fd` from offset 0 (pread: the descriptor's offset is left
// alone) in bounded chunks, so memory stays flat for any file size. `what`
// names the file in errors.
absl::StatusOr<FileDigest> DigestFile(int fd, absl::string_view what);

}  // namespace idem::files

#endif  // IDEM_SERVICE_FILES_FILE_DIGEST_H_
