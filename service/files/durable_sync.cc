#include "service/files/durable_sync.h"

#include <unistd.h>

#include <cerrno>

#include "service/files/errno_status.h"
#include "service/files/fault_points.h"

namespace idem::files {

absl::Status Sync(int fd, absl::string_view what) {
#ifdef IDEM_FILES_FAULT_POINTS
  if (testing::Faults().on_fsync) testing::Faults().on_fsync(fd);
#endif
  if (fsync(fd) != 0) return ErrnoStatus(errno, what);
  return absl::OkStatus();
}

}  // namespace idem::files
