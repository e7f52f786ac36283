#ifndef IDEM_SERVICE_FILES_DURABLE_SYNC_H_
#define IDEM_SERVICE_FILES_DURABLE_SYNC_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace idem::files {

// fsync(fd): what `fd` holds (a file's contents, a folder's entries)
// survives a power loss once this returns OK. Every copy's fsync goes
// through here, so that the tests can see which files and folders were
// made durable (fault_points.h, on_fsync).
absl::Status Sync(int fd, absl::string_view what);

}  // namespace idem::files

#endif  // IDEM_SERVICE_FILES_DURABLE_SYNC_H_
