#include "service/files/folder_lock.h"

#include <sys/file.h>

#include <cerrno>
#include <utility>

#include "absl/strings/str_cat.h"
#include "service/files/errno_status.h"

namespace idem::files {

absl::StatusOr<FolderLock> FolderLock::Acquire(int folder_fd,
                                               absl::string_view what) {
  while (flock(folder_fd, LOCK_EX) != 0) {
    if (errno != EINTR) {
      return ErrnoStatus(errno, absl::StrCat("locking the folder of ", what));
    }
  }
  return FolderLock(folder_fd);
}

FolderLock::FolderLock(FolderLock&& other) noexcept
    : folder_fd_(std::exchange(other.folder_fd_, -1)) {}

FolderLock::~FolderLock() {
  if (folder_fd_ >= 0) flock(folder_fd_, LOCK_UN);
}

}  // namespace idem::files
