#include "service/files/storage_root.h"

#include <fcntl.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "service/common/error_reason.h"
#include "service/files/open_beneath.h"

namespace idem::files {

absl::StatusOr<std::unique_ptr<StorageRoot>> StorageRoot::Open(
    const std::string& path, const SweepLimits& sweep_limits) {
  if (path.empty()) {
    return absl::InvalidArgumentError("storage root path is empty");
  }
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid() && errno == ENOENT) {
    std::error_code error;
    std::filesystem::create_directories(path, error);
    if (error) {
      return absl::FailedPreconditionError(absl::StrCat(
          "cannot create storage root '", path, "': ", error.message()));
    }
    fd = UniqueFd(open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  }
  if (!fd.valid()) {
    if (errno == ENOTDIR) {
      return absl::InvalidArgumentError(
          absl::StrCat("storage root '", path, "' is not a directory"));
    }
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot open storage root '", path, "': ", std::strerror(errno)));
  }
  // Probe the resolver every copy depends on. Fail closed: without openat2
  // a symbolic link could lead a copy out of the root.
  int probe_error = 0;
  if (!OpenBeneath(fd.get(), ".", O_PATH | O_DIRECTORY, &probe_error).valid()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "openat2(RESOLVE_BENEATH) is unavailable (", std::strerror(probe_error),
        "); CopyFile needs Linux 5.6 or later and a seccomp profile that "
        "allows openat2"));
  }
  SweepResult sweep = RemoveLeftoverTempFiles(fd.get(), sweep_limits);
  return std::unique_ptr<StorageRoot>(new StorageRoot(std::move(fd), sweep));
}

absl::Status StorageRoot::CopiesGoOn() const {
  if (!copies_stopped_.load(std::memory_order_relaxed)) return absl::OkStatus();
  return Error(Reason::kShuttingDown,
               "the copy was stopped unfinished (the server's shutdown grace "
               "ran out); nothing was written; retry");
}

}  // namespace idem::files
