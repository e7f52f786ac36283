#include "service/files/errno_status.h"

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "service/common/error_reason.h"

namespace idem::files {

absl::Status ErrnoStatus(int error, absl::string_view what) {
  switch (error) {
    case ENOENT:
      // A missing source is SOURCE_NOT_FOUND where it is opened
      // (OpenSourceFile); here a folder of a path is gone or a broken
      // symbolic link.
      return Error(Reason::kRequestInvalid,
                   absl::StrCat(what,
                                ": a folder in the path does not exist (a "
                                "broken symbolic link, or removed meanwhile)"));
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
      // The server's own access to its storage, not the caller's
      // (OPERATION_NOT_ALLOWED): the volume must be set up so that the
      // server may read and write it.
      return Error(Reason::kStorageNotConfigured,
                   absl::StrCat(what,
                                ": the server may not read or write it (file "
                                "permissions of the storage volume)"));
    case ENOTDIR:
      return Error(
          Reason::kRequestInvalid,
          absl::StrCat(what, ": a folder in the path is not a directory"));
    case ENXIO:  // a socket, or a device without its driver
    case ENODEV:
      return Error(Reason::kRequestInvalid,
                   absl::StrCat(what, " is not a regular file"));
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
      return Error(Reason::kStorageNotConfigured,
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
