#ifndef IDEM_SERVICE_FILES_STORAGE_ROOT_H_
#define IDEM_SERVICE_FILES_STORAGE_ROOT_H_

#include <atomic>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "service/files/leftover_sweep.h"
#include "service/files/unique_fd.h"

namespace idem::files {

// The folder CopyFile works in (IDEM_STORAGE_ROOT), held open as a directory
// descriptor for the life of the server: every path is resolved beneath this
// descriptor, never by joining strings onto the root's name, so renaming or
// replacing the root's path later changes nothing. Thread-safe: the
// descriptor is only read.
class StorageRoot {
 public:
  // Creates `path` (and missing parents) if needed and opens it. Fails with
  // INVALID_ARGUMENT if it is not a directory, and with FAILED_PRECONDITION
  // if the kernel lacks openat2 (Linux < 5.6, or blocked by seccomp): the
  // server then refuses to start instead of resolving paths unsafely. There
  // is no fallback resolver. Errors name `path`: they are for the operator.
  // Once open, removes the temporary files of copies that crashed before
  // (RemoveLeftoverTempFiles, within `sweep_limits`).
  static absl::StatusOr<std::unique_ptr<StorageRoot>> Open(
      const std::string& path, const SweepLimits& sweep_limits = {});

  int fd() const { return fd_.get(); }

  // From now on, every copy still running stops at its next chunk with
  // UNAVAILABLE SHUTTING_DOWN (the server's shutdown grace ran out: another
  // replica may run it), leaving its destination as it was.
  void StopCopies() { copies_stopped_.store(true, std::memory_order_relaxed); }
  // OK while copies may go on; the status a stopped copy ends with.
  absl::Status CopiesGoOn() const;
  // What the sweep at Open did.
  const SweepResult& start_sweep() const { return start_sweep_; }

 private:
  StorageRoot(UniqueFd fd, SweepResult start_sweep)
      : fd_(std::move(fd)), start_sweep_(start_sweep) {}
  UniqueFd fd_;
  SweepResult start_sweep_;
  std::atomic<bool> copies_stopped_{false};
};

}  // namespace idem::files

#endif  // IDEM_SERVICE_FILES_STORAGE_ROOT_H_
