#ifndef IDEM_SERVICE_FILES_SANDBOXED_OPEN_H_
#define IDEM_SERVICE_FILES_SANDBOXED_OPEN_H_

#include "absl/status/statusor.h"
#include "service/files/relative_path.h"
#include "service/files/storage_root.h"
#include "service/files/unique_fd.h"

namespace idem::files {

// Opening the files of a copy beneath the storage root. Symbolic links are
// followed while they stay beneath the root (a link inside the root to
// another place inside it works); one that leads out is PERMISSION_DENIED.

// Opens the source for reading. NOT_FOUND if missing, INVALID_ARGUMENT if it
// is a directory or not a regular file.
absl::StatusOr<UniqueFd> OpenSourceFile(const StorageRoot& root,
                                        const RelativePath& path);

// Opens the folder of destination `path`, creating missing folders (each
// made durable in its parent). Every call returns a fresh open file
// description, so that its flock() is independent of other copies'.
absl::StatusOr<UniqueFd> OpenDestinationFolder(const StorageRoot& root,
                                               const RelativePath& path);

// Opens the current destination, `path.name()` in `folder_fd`, for reading.
// An invalid descriptor means there is none. The name itself is never
// followed: a symbolic link there is PERMISSION_DENIED (replacing it would
// replace the link, not the file it names, which no caller means);
// a directory or other non-regular file is INVALID_ARGUMENT.
absl::StatusOr<UniqueFd> OpenExistingDestination(int folder_fd,
                                                 const RelativePath& path);

}  // namespace idem::files

#endif  // IDEM_SERVICE_FILES_SANDBOXED_OPEN_H_
