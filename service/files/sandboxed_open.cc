#include "service/files/sandboxed_open.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "service/common/error_reason.h"
#include "service/files/durable_sync.h"
#include "service/files/errno_status.h"
#include "service/files/open_beneath.h"

namespace idem::files {
namespace {

// O_NONBLOCK: opening a FIFO planted under a caller's path must not hang the
// copy; fstat() then refuses it. Regular files ignore the flag.
constexpr int kReadFlags = O_RDONLY | O_NOCTTY | O_NONBLOCK;
constexpr int kFolderFlags = O_RDONLY | O_DIRECTORY;
constexpr mode_t kFolderMode = 0755;

absl::Status RequireRegularFile(int fd, absl::string_view what) {
  struct stat st;
  if (fstat(fd, &st) != 0) return ErrnoStatus(errno, what);
  if (S_ISDIR(st.st_mode)) {
    return Error(Reason::kRequestInvalid,
                 absl::StrCat(what, " is a directory"));
  }
  if (!S_ISREG(st.st_mode)) {
    return Error(Reason::kRequestInvalid,
                 absl::StrCat(what, " is not a regular file"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<UniqueFd> OpenSourceFile(const StorageRoot& root,
                                        const RelativePath& path) {
  const std::string what = absl::StrCat("source_path ", path.display);
  int error = 0;
  UniqueFd fd = OpenBeneath(root.fd(), path.Joined(), kReadFlags, &error);
  if (!fd.valid()) {
    if (error == ENOENT) {
      return Error(Reason::kSourceNotFound,
                   absl::StrCat(what, " does not exist"));
    }
    return ErrnoStatus(error, what);
  }
  if (absl::Status status = RequireRegularFile(fd.get(), what); !status.ok()) {
    return status;
  }
  return fd;
}

absl::StatusOr<UniqueFd> OpenDestinationFolder(const StorageRoot& root,
                                               const RelativePath& path) {
  const std::string what = absl::StrCat("destination_path ", path.display);
  const auto& parts = path.components;
  const size_t depth = parts.size() - 1;
  int error = 0;
  // The usual case: the folder exists.
  UniqueFd folder = OpenBeneath(
      root.fd(), depth == 0 ? "." : path.ParentJoined(), kFolderFlags, &error);
  if (folder.valid()) return folder;
  if (error != ENOENT) return ErrnoStatus(error, what);

  // Create what is missing, one level at a time. Each level is reopened
  // from the root so that links inside it resolve exactly as above.
  folder = OpenBeneath(root.fd(), ".", kFolderFlags, &error);
  if (!folder.valid()) return ErrnoStatus(error, what);
  for (size_t level = 1; level <= depth; ++level) {
    const std::string prefix =
        absl::StrJoin(parts.begin(), parts.begin() + level, "/");
    UniqueFd next = OpenBeneath(root.fd(), prefix, kFolderFlags, &error);
    if (!next.valid() && error == ENOENT) {
      // mkdirat never follows a link in the new name, and the parent is the
      // already-resolved descriptor, so the new folder lands beneath the root.
      if (mkdirat(folder.get(), parts[level - 1].c_str(), kFolderMode) != 0 &&
          errno != EEXIST) {
        return ErrnoStatus(errno,
                           absl::StrCat("creating the folder of ", what));
      }
      if (absl::Status synced = Sync(folder.get(), what); !synced.ok()) {
        return synced;
      }
      next = OpenBeneath(root.fd(), prefix, kFolderFlags, &error);
    }
    if (!next.valid()) return ErrnoStatus(error, what);
    folder = std::move(next);
  }
  return folder;
}

absl::StatusOr<UniqueFd> OpenExistingDestination(int folder_fd,
                                                 const RelativePath& path) {
  const std::string what = absl::StrCat("destination_path ", path.display);
  int error = 0;
  UniqueFd fd = OpenBeneath(folder_fd, path.name(), kReadFlags | O_NOFOLLOW,
                            &error, RESOLVE_NO_SYMLINKS);
  if (!fd.valid()) {
    if (error == ENOENT) return UniqueFd();
    if (error == ELOOP) {
      return Error(
          Reason::kPathOutsideRoot,
          absl::StrCat(what, " is a symbolic link; it is not replaced"));
    }
    return ErrnoStatus(error, what);
  }
  if (absl::Status status = RequireRegularFile(fd.get(), what); !status.ok()) {
    return status;
  }
  return fd;
}

}  // namespace idem::files
