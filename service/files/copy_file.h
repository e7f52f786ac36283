#ifndef IDEM_SERVICE_FILES_COPY_FILE_H_
#define IDEM_SERVICE_FILES_COPY_FILE_H_

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "idem/v1/idem.pb.h"
#include "service/files/storage_root.h"

namespace idem::files {

// Copies request.source_path to request.destination_path, both relative to
// `root` (docs/copy-file.md):
// - destination missing: COPIED (missing folders are created);
// - same size and SHA-256: UNCHANGED, nothing written, mtime untouched;
// - different: the old file is kept as a backup (KeepBackup), then
//   REPLACED with backup_path set.
// The new content goes to a temporary file in the destination's folder,
// copied in bounded chunks, fsynced, renamed over the destination, and the
// folder is fsynced: a crash leaves the old file or the new one. Errors:
// NOT_FOUND (no source), INVALID_ARGUMENT (malformed path, directory or
// other non-regular file), PERMISSION_DENIED (way out of the root),
// RESOURCE_EXHAUSTED (volume full; no temporary file left, destination
// untouched), ABORTED ROW_LOCKED (another copy into the same folder held it
// longer than `most_lock_wait`; nothing written). Messages quote the
// caller's paths, never the root's. Thread-safe; copies into one folder run
// one at a time (FolderLock).
absl::StatusOr<idem::v1::CopyFileResponse> CopyFile(
    const StorageRoot& root, const idem::v1::CopyFileRequest& request,
    absl::Duration most_lock_wait);

}  // namespace idem::files

#endif  // IDEM_SERVICE_FILES_COPY_FILE_H_
