#include "service/files/errno_status.h"

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "service/common/error_reason.h"

namespace idem::files {

absl::Status ErrnoStatus(int error, absl::string_view what) {
  switch (error) {
    case ENOENT:
      return Error(Reason::kSourceNotFound,
                   absl::StrCat(what, ": no such file"));
    case EXDEV:
    case ELOOP:
      // openat2's answers for a path that resolves outside the root or
      // through a link it may not follow.
      return Error(Reason::kPathOutsideRoot,
                   absl::StrCat(what,
                                ": leads outside the storage root or through "
                                "a forbidden symbolic link"));
    case EACCES:
    case EPERM:
      return Error(Reason::kOperationNotAllowed,
                   absl::StrCat(what, ": permission denied"));
    case ENOTDIR:
      return Error(
          Reason::kRequestInvalid,
          absl::StrCat(what, ": a folder in the path is not a directory"));
    case EISDIR:
      return Error(Reason::kRequestInvalid,
                   absl::StrCat(what, ": is a directory"));
    case ENAMETOOLONG:
      return Error(Reason::kRequestInvalid,
                   absl::StrCat(what, ": name too long"));
    case ENOSPC:
    case EDQUOT:
      return Error(Reason::kDiskFull,
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
