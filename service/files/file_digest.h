#ifndef IDEM_SERVICE_FILES_FILE_DIGEST_H_
#define IDEM_SERVICE_FILES_FILE_DIGEST_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "service/common/sha256.h"

namespace idem::files {

// What identifies a file's content: two files are the same when both agree.
struct FileDigest {
  std::string sha256_hex;  // lower-case
  uint64_t size = 0;

  bool operator==(const FileDigest& other) const {
    return size == other.size && sha256_hex == other.sha256_hex;
  }
};

// Hashes a file from offset 0 forward, one bounded chunk at a time (pread:
// the descriptor's offset is left alone), so memory stays flat for any
// file size. `what` names the file in errors.
class DigestReader {
 public:
  DigestReader(int fd, std::string what);

  // Hashes the next chunk of the bytes before offset `limit`: how many it
  // hashed, 0 at the end of the file (or at `limit`).
  absl::StatusOr<size_t> HashNext(uint64_t limit);
  // How far it has hashed.
  uint64_t size() const { return size_; }
  // The digest of everything hashed. Ends the reader: call once.
  FileDigest Finish();

 private:
  const int fd_;
  const std::string what_;
  std::unique_ptr<char[]> buffer_;
  Sha256 hash_;
  uint64_t size_ = 0;
};

// All of `fd`, read with a DigestReader.
absl::StatusOr<FileDigest> DigestFile(int fd, absl::string_view what);

// DigestFile of two files at once, `second` on a thread of its own: on two
// cores, in the time of the larger.
std::pair<absl::StatusOr<FileDigest>, absl::StatusOr<FileDigest>> DigestBoth(
    int first_fd, absl::string_view first_what, int second_fd,
    absl::string_view second_what);

}  // namespace idem::files

#endif  // IDEM_SERVICE_FILES_FILE_DIGEST_H_
