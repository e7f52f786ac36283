#include "service/files/file_digest.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <limits>
#include <string_view>
#include <thread>
#include <utility>

#include "service/files/errno_status.h"
#include "service/files/helper_thread.h"

namespace idem::files {
namespace {

constexpr size_t kChunkBytes = 1 << 20;

}  // namespace

DigestReader::DigestReader(int fd, std::string what)
    : fd_(fd),
      what_(std::move(what)),
      buffer_(std::make_unique<char[]>(kChunkBytes)) {}

absl::StatusOr<size_t> DigestReader::HashNext(uint64_t limit) {
  if (limit <= size_) return 0;
  const size_t want =
      static_cast<size_t>(std::min<uint64_t>(kChunkBytes, limit - size_));
  while (true) {
    ssize_t got = pread(fd_, buffer_.get(), want, size_);
    if (got < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, what_);
    }
    hash_.Update(std::string_view(buffer_.get(), got));
    size_ += got;
    return static_cast<size_t>(got);
  }
}

FileDigest DigestReader::Finish() {
  return FileDigest{hash_.HexDigest(), size_};
}

absl::StatusOr<FileDigest> DigestFile(int fd, absl::string_view what) {
  DigestReader reader(fd, std::string(what));
  while (true) {
    absl::StatusOr<size_t> hashed =
        reader.HashNext(std::numeric_limits<uint64_t>::max());
    if (!hashed.ok()) return hashed.status();
    if (*hashed == 0) return reader.Finish();
  }
}

std::pair<absl::StatusOr<FileDigest>, absl::StatusOr<FileDigest>> DigestBoth(
    int first_fd, absl::string_view first_what, int second_fd,
    absl::string_view second_what) {
  absl::StatusOr<FileDigest> second;
  auto hash_second = [&] { second = DigestFile(second_fd, second_what); };
  std::thread hashing;
  const bool beside = StartHelperThread(hashing, hash_second);
  absl::StatusOr<FileDigest> first = DigestFile(first_fd, first_what);
  if (beside) {
    hashing.join();
  } else {
    hash_second();
  }
  return {std::move(first), std::move(second)};
}

}  // namespace idem::files
