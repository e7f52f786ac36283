#include "service/files/file_digest.h"

#include <unistd.h>

#include <cerrno>
#include <memory>
#include <string_view>

#include "service/common/sha256.h"
#include "service/files/errno_status.h"

namespace idem::files {
namespace {

constexpr size_t kChunkBytes = 1 << 20;

}  // namespace

absl::StatusOr<FileDigest> DigestFile(int fd, absl::string_view what) {
  auto buffer = std::make_unique<char[]>(kChunkBytes);
  Sha256 hash;
  FileDigest digest;
  while (true) {
    ssize_t got = pread(fd, buffer.get(), kChunkBytes, digest.size);
    if (got < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, what);
    }
    if (got == 0) break;
    hash.Update(std::string_view(buffer.get(), got));
    digest.size += got;
  }
  digest.sha256_hex = hash.HexDigest();
  return digest;
}

}  // namespace idem::files
