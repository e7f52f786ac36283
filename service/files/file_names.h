#ifndef IDEM_SERVICE_FILES_FILE_NAMES_H_
#define IDEM_SERVICE_FILES_FILE_NAMES_H_

#include <string>

#include "absl/strings/string_view.h"

namespace idem::files {

// Names of the files a copy creates next to its destination.

// Temporary files start with this prefix. Callers may not name a file this
// way, so cleaning up a crashed copy can never delete a caller's file.
inline constexpr absl::string_view kTempPrefix = ".idem-tmp.";

// The temporary file of a copy to `name`. One per destination: copies into a
// folder hold that folder's lock, so a temporary file that exists while the
// lock is held was left by a crashed copy and may be removed.
std::string TempName(absl::string_view name);

// Backup of the old content of `name` whose SHA-256 is `sha256_hex`:
// "<name>.idem-backup-<first 16 hex digits>", and ".2", ".3"... appended for
// `attempt` > 1 when a different file already has that name. When the result
// would exceed NAME_MAX, the name part is shortened and ends with "~" and 8
// hex digits of the whole name's SHA-256.
std::string BackupName(absl::string_view name, absl::string_view sha256_hex,
                       int attempt);

}  // namespace idem::files

#endif  // IDEM_SERVICE_FILES_FILE_NAMES_H_
