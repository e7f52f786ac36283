#include "service/files/backup.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "service/files/durable_sync.h"
#include "service/files/errno_status.h"
#include "service/files/file_names.h"
#include "service/files/unique_fd.h"

namespace idem::files {
namespace {

// Numbered names are only for hash-prefix clashes or files a caller put at a
// backup's name; this many means something is wrong, not bad luck.
constexpr int kMaxAttempts = 100;

// Whether the regular file `backup` in `folder_fd` holds exactly `old`.
absl::StatusOr<bool> HoldsContent(int folder_fd, const std::string& backup,
                                  const FileDigest& old,
                                  absl::string_view what) {
  UniqueFd fd(openat(folder_fd, backup.c_str(),
                     O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (!fd.valid()) {
    // A link or something vanished since linkat(): not our backup.
    if (errno == ELOOP || errno == ENOENT) return false;
    return ErrnoStatus(errno, what);
  }
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return ErrnoStatus(errno, what);
  if (!S_ISREG(st.st_mode) || static_cast<uint64_t>(st.st_size) != old.size) {
    return false;
  }
  absl::StatusOr<FileDigest> digest = DigestFile(fd.get(), what);
  if (!digest.ok()) return digest.status();
  return *digest == old;
}

}  // namespace

absl::StatusOr<std::string> KeepBackup(int folder_fd, const std::string& name,
                                       const FileDigest& old,
                                       absl::string_view what) {
  const std::string doing = absl::StrCat("keeping a backup of ", what);
  for (int attempt = 1; attempt <= kMaxAttempts; ++attempt) {
    std::string backup = BackupName(name, old.sha256_hex, attempt);
    if (linkat(folder_fd, name.c_str(), folder_fd, backup.c_str(), 0) == 0) {
      if (absl::Status synced = Sync(folder_fd, doing); !synced.ok()) {
        return synced;
      }
      return backup;
    }
    if (errno != EEXIST) return ErrnoStatus(errno, doing);
    absl::StatusOr<bool> same = HoldsContent(folder_fd, backup, old, doing);
    if (!same.ok()) return same.status();
    if (*same) return backup;
  }
  return absl::FailedPreconditionError(
      absl::StrCat(doing, ": ", kMaxAttempts,
                   " different files already use its backup names"));
}

}  // namespace idem::files
