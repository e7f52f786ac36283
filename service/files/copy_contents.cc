#include "service/files/copy_contents.h"

#include <unistd.h>

#include <cerrno>
#include <memory>

#include "service/files/errno_status.h"
#include "service/files/fault_points.h"

namespace idem::files {
namespace {

constexpr size_t kRangeChunkBytes = 8 << 20;   // in-kernel: no buffer of ours
constexpr size_t kBufferChunkBytes = 1 << 20;  // the read/write buffer

// copy_file_range's answers for "not for this pair of files" (another file
// system on older kernels, a file system without support): use read/write.
bool RangeCopyUnsupported(int error) {
  return error == EXDEV || error == EINVAL || error == ENOSYS ||
         error == EOPNOTSUPP;
}

absl::Status WriteAll(int fd, const char* data, size_t size, off_t offset,
                      absl::string_view what) {
  size_t done = 0;
  while (done < size) {
    ssize_t wrote = pwrite(fd, data + done, size - done, offset + done);
    if (wrote < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, what);
    }
    done += wrote;
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CopyContents(
    int src_fd, int dst_fd, absl::string_view what,
    absl::FunctionRef<absl::Status(uint64_t)> copied_up_to) {
  bool use_range = true;
#ifdef IDEM_FILES_FAULT_POINTS
  use_range = !testing::Faults().disable_copy_file_range;
#endif
  std::unique_ptr<char[]> buffer;
  off_t offset = 0;
  while (true) {
#ifdef IDEM_FILES_FAULT_POINTS
    if (testing::Faults().chunk_error) {
      if (int error = testing::Faults().chunk_error(); error != 0) {
        return ErrnoStatus(error, what);
      }
    }
#endif
    if (use_range) {
      loff_t in = offset;
      loff_t out = offset;
      ssize_t copied =
          copy_file_range(src_fd, &in, dst_fd, &out, kRangeChunkBytes, 0);
      if (copied > 0) {
        offset += copied;
        if (absl::Status go_on = copied_up_to(offset); !go_on.ok()) {
          return go_on;
        }
        continue;
      }
      // 0 at offset 0 is also how some pseudo file systems answer for a
      // file they cannot range-copy; read/write tells that from a real EOF.
      if (copied == 0 && offset > 0) return absl::OkStatus();
      if (copied < 0 && errno == EINTR) continue;
      if (copied < 0 && !RangeCopyUnsupported(errno)) {
        return ErrnoStatus(errno, what);
      }
      use_range = false;
      continue;
    }
    if (!buffer) buffer = std::make_unique<char[]>(kBufferChunkBytes);
    ssize_t got = pread(src_fd, buffer.get(), kBufferChunkBytes, offset);
    if (got < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, what);
    }
    if (got == 0) return absl::OkStatus();
    if (absl::Status status = WriteAll(dst_fd, buffer.get(), got, offset, what);
        !status.ok()) {
      return status;
    }
    offset += got;
    if (absl::Status go_on = copied_up_to(offset); !go_on.ok()) return go_on;
  }
}

}  // namespace idem::files
