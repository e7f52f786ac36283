#ifndef IDEM_SERVICE_FILES_FAULT_POINTS_H_
#define IDEM_SERVICE_FILES_FAULT_POINTS_H_

#include <functional>

namespace idem::files::testing {

// Test-only fault points. They exist only in the idem_files_testing library
// (compiled with IDEM_FILES_FAULT_POINTS); the server links idem_files, in
// which the calls are compiled out. Set them before starting copies.
struct FaultPoints {
  // Runs when the temporary file is complete, fsynced and the backup (if
  // any) made, just before the rename. A test makes it raise(SIGKILL) in a
  // forked child to crash at the worst moment.
  std::function<void()> before_rename;
  // Returns an errno to fail the next chunk of the copy with (e.g. ENOSPC),
  // or 0 to let it proceed.
  std::function<int()> chunk_error;
  // Copies with read/write instead of copy_file_range.
  bool disable_copy_file_range = false;
  // StartHelperThread finds no thread to start, as when a container's
  // pids limit is reached.
  bool refuse_threads = false;
  // Runs before every fsync of a copy (durable_sync.h), with its fd.
  std::function<void(int fd)> on_fsync;
};

FaultPoints& Faults();

}  // namespace idem::files::testing

#endif  // IDEM_SERVICE_FILES_FAULT_POINTS_H_
