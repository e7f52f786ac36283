#ifndef IDEM_SERVICE_FILES_COPY_FILE_H_
#define IDEM_SERVICE_FILES_COPY_FILE_H_

#include <functional>

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
//
// `point_of_no_return`, when set, is called with the answer the copy will
// give right before the rename that makes it take effect (a backup, when
// one is kept, exists by then): a status it returns ends the copy there,
// with the destination untouched.
using PointOfNoReturn =
    std::function<absl::Status(const idem::v1::CopyFileResponse& intended)>;
absl::StatusOr<idem::v1::CopyFileResponse> CopyFile(
    const StorageRoot& root, const idem::v1::CopyFileRequest& request,
    absl::Duration most_lock_wait,
    const PointOfNoReturn& point_of_no_return = nullptr);

// Whether a copy of `request` that reached its point of no return with the
// answer `staged` and then stopped (its server died) may have renamed its
// file into place. False only when the destination is provably as that copy
// found it: still absent for COPIED, still the very file (inode) its backup
// links to for REPLACED; then the copy did not take effect and may run
// again. True otherwise, also when another writer changed the destination
// since: then the copy is not done again over it. When true, the
// destination and its folder are made durable (that copy may have died
// before it synced them).
absl::StatusOr<bool> StagedCopyLanded(const StorageRoot& root,
                                      const idem::v1::CopyFileRequest& request,
                                      const idem::v1::CopyFileResponse& staged);

}  // namespace idem::files

#endif  // IDEM_SERVICE_FILES_COPY_FILE_H_
