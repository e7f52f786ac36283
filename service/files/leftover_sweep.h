#ifndef IDEM_SERVICE_FILES_LEFTOVER_SWEEP_H_
#define IDEM_SERVICE_FILES_LEFTOVER_SWEEP_H_

namespace idem::files {

// Bounds of the start-up sweep: it must never make a start slow.
struct SweepLimits {
  int max_entries = 100000;  // directory entries looked at, in all
  int max_depth = 32;        // folders below the root
};

struct SweepResult {
  int removed = 0;       // temporary files of crashed copies removed
  int busy_folders = 0;  // folders skipped: a copy held their lock
  bool complete = true;  // false: a limit stopped the walk
};

// Removes the temporary files (".idem-tmp.*") that crashed copies left
// anywhere beneath `root_fd`, at start. Safe beside running copies (other
// replicas on the same volume): a folder is swept only while this holds its
// lock without waiting, the same lock every copy holds while its temporary
// file exists, so a locked folder's temporary files all belong to crashed
// copies; a busy folder is skipped. Symbolic links are never followed and
// only regular files are removed. Best effort: errors are ignored, and what
// is left is removed by the next copy to that destination.
SweepResult RemoveLeftoverTempFiles(int root_fd, const SweepLimits& limits);

}  // namespace idem::files

#endif  // IDEM_SERVICE_FILES_LEFTOVER_SWEEP_H_
