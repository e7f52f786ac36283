#include "service/files/folder_lock.h"

#include <sys/file.h>

#include <algorithm>
#include <cerrno>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "service/common/refusals.h"
#include "service/files/errno_status.h"

namespace idem::files {

absl::StatusOr<FolderLock> FolderLock::Acquire(int folder_fd,
                                               absl::string_view what,
                                               absl::Duration most_wait) {
  // flock() has no timeout: it is tried without blocking, with pauses that
  // grow to 20 ms (a copy holds the lock for at least a file's fsync).
  const absl::Time give_up = absl::Now() + most_wait;
  absl::Duration pause = absl::Milliseconds(1);
  while (flock(folder_fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EINTR) continue;
    if (errno != EWOULDBLOCK) {
      return ErrnoStatus(errno, absl::StrCat("locking the folder of ", what));
    }
    const absl::Duration left = give_up - absl::Now();
    if (left <= absl::ZeroDuration()) {
      return RowLocked(
          absl::StrCat("another copy into the folder of ", what,
                       " ran longer than ", absl::FormatDuration(most_wait),
                       " (IDEM_LOCK_TIMEOUT); nothing was written; retry"));
    }
    absl::SleepFor(std::min(pause, left));
    pause = std::min(pause * 2, absl::Milliseconds(20));
  }
  return FolderLock(folder_fd);
}

FolderLock::FolderLock(FolderLock&& other) noexcept
    : folder_fd_(std::exchange(other.folder_fd_, -1)) {}

FolderLock::~FolderLock() {
  if (folder_fd_ >= 0) flock(folder_fd_, LOCK_UN);
}

}  // namespace idem::files
