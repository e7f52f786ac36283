#ifndef IDEM_SERVICE_FILES_FOLDER_LOCK_H_
#define IDEM_SERVICE_FILES_FOLDER_LOCK_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace idem::files {

// An exclusive flock() on a folder, held by a copy into that folder from its
// first look at the destination to its rename. flock() locks belong to an
// open file description, so two copies with their own descriptors of the
// same folder exclude each other whether they run in one process (threads)
// or several (replicas sharing a volume), and a crashed process's lock is
// released by the kernel. While the lock is held, a temporary file in the
// folder can only be a crashed copy's.
class FolderLock {
 public:
  // Waits until the lock on `folder_fd` (borrowed) is held, at most
  // `most_wait`: then ABORTED ROW_LOCKED with a retry delay, so that copies
  // queued behind a long one into the same folder give their threads back
  // and never land after their callers gave up.
  static absl::StatusOr<FolderLock> Acquire(int folder_fd,
                                            absl::string_view what,
                                            absl::Duration most_wait);

  FolderLock(FolderLock&& other) noexcept;
  FolderLock& operator=(FolderLock&&) = delete;
  ~FolderLock();

 private:
  explicit FolderLock(int folder_fd) : folder_fd_(folder_fd) {}
  int folder_fd_;  // -1 once moved from
};

}  // namespace idem::files

#endif  // IDEM_SERVICE_FILES_FOLDER_LOCK_H_
