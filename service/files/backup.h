#ifndef IDEM_SERVICE_FILES_BACKUP_H_
#define IDEM_SERVICE_FILES_BACKUP_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "service/files/file_digest.h"

namespace idem::files {

// Keeps the current `name` in `folder_fd`, whose content is `old`, as a
// backup before it is replaced, and returns the backup's name (see
// BackupName). The backup is a hard link: no data is copied, and linkat()
// never replaces an existing name, so no backup is ever overwritten. When
// the name is taken by a file with the same content, that file already is
// the backup; by a different one, the next numbered name is tried. The new
// link is fsynced into the folder. Expects the folder's lock held.
absl::StatusOr<std::string> KeepBackup(int folder_fd, const std::string& name,
                                       const FileDigest& old,
                                       absl::string_view what);

}  // namespace idem::files

#endif  // IDEM_SERVICE_FILES_BACKUP_H_
