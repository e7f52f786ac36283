#ifndef IDEM_SERVICE_FILES_ERRNO_STATUS_H_
#define IDEM_SERVICE_FILES_ERRNO_STATUS_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace idem::files {

// Maps a failed system call's errno to the status a caller can act on.
// `what` names the caller's path (never the server's root), e.g.
// "reading source_path 'a/b'". Escapes (EXDEV, ELOOP) are PERMISSION_DENIED,
// a full volume (ENOSPC, EDQUOT) RESOURCE_EXHAUSTED, a volume the server
// may not write (EROFS, EACCES) FAILED_PRECONDITION STORAGE_NOT_CONFIGURED,
// a missing folder (ENOENT) or a socket (ENXIO) INVALID_ARGUMENT.
absl::Status ErrnoStatus(int error, absl::string_view what);

}  // namespace idem::files

#endif  // IDEM_SERVICE_FILES_ERRNO_STATUS_H_
