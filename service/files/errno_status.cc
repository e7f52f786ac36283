#include "service/files/errno_status.h"

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace idem::files {

absl::Status ErrnoStatus(int error, absl::string_view what) {
  switch (error) {
    case ENOENT:
      return absl::NotFoundError(absl::StrCat(what, ": no such file"));
    case EXDEV:
    case ELOOP:
      // openat2's answers for a path that resolves outside the root or
      // through a link it may not follow.
      return absl::PermissionDeniedError(absl::StrCat(
          what,
          ": leads outside the storage root or through a forbidden "
          "symbolic link"));
    case EACCES:
    case EPERM:
      return absl::PermissionDeniedError(
          absl::StrCat(what, ": permission denied"));
    case ENOTDIR:
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": a folder in the path is not a directory"));
    case EISDIR:
      return absl::InvalidArgumentError(absl::StrCat(what, ": is a directory"));
    case ENAMETOOLONG:
      return absl::InvalidArgumentError(absl::StrCat(what, ": name too long"));
    case ENOSPC:
    case EDQUOT:
      return absl::ResourceExhaustedError(
          absl::StrCat(what, ": the storage volume is full"));
    case EROFS:
      return absl::FailedPreconditionError(
          absl::StrCat(what, ": the storage volume is read-only"));
    case EAGAIN:
    case EINTR:
      return absl::UnavailableError(
          absl::StrCat(what, ": interrupted, try again"));
    default:
      return absl::InternalError(
          absl::StrCat(what, ": ", std::strerror(error)));
  }
}

}  // namespace idem::files
