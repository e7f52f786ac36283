#include "service/files/leftover_sweep.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "service/files/file_names.h"
#include "service/files/unique_fd.h"

namespace idem::files {
namespace {

struct Walk {
  const SweepLimits& limits;
  SweepResult result;
  int entries = 0;
};

// The entry's type without following a link; 0 when unknown.
unsigned char TypeOf(int dir_fd, const dirent& entry) {
  if (entry.d_type != DT_UNKNOWN) return entry.d_type;
  struct stat st;
  if (fstatat(dir_fd, entry.d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) return 0;
  if (S_ISDIR(st.st_mode)) return DT_DIR;
  if (S_ISREG(st.st_mode)) return DT_REG;
  return 0;
}

bool TryLock(int dir_fd) {
  while (flock(dir_fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno != EINTR) return false;
  }
  return true;
}

// Sweeps one folder under its lock and returns its subfolders' names; the
// lock is released before they are visited.
std::vector<std::string> SweepFolder(int dir_fd, Walk& walk) {
  std::vector<std::string> subfolders;
  // A descriptor of its own: fdopendir takes it, closedir closes it and so
  // drops the lock taken on it.
  const int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return subfolders;
  std::unique_ptr<DIR, int (*)(DIR*)> dir(fdopendir(fd), closedir);
  if (dir == nullptr) {
    close(fd);
    return subfolders;
  }
  const bool locked = TryLock(fd);
  if (!locked) ++walk.result.busy_folders;
  while (const dirent* entry = readdir(dir.get())) {
    const std::string name = entry->d_name;
    if (name == "." || name == "..") continue;
    if (++walk.entries > walk.limits.max_entries) {
      walk.result.complete = false;
      break;
    }
    const unsigned char type = TypeOf(fd, *entry);
    if (type == DT_DIR) {
      subfolders.push_back(name);
    } else if (type == DT_REG && locked &&
               absl::StartsWith(name, kTempPrefix) &&
               unlinkat(fd, name.c_str(), 0) == 0) {
      ++walk.result.removed;
    }
  }
  return subfolders;
}

void Visit(int dir_fd, int depth, Walk& walk) {
  for (const std::string& name : SweepFolder(dir_fd, walk)) {
    if (!walk.result.complete) return;
    if (depth >= walk.limits.max_depth) {
      walk.result.complete = false;
      return;
    }
    // O_NOFOLLOW: a link swapped in for a folder is not entered.
    UniqueFd sub(openat(dir_fd, name.c_str(),
                        O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (sub.valid()) Visit(sub.get(), depth + 1, walk);
  }
}

}  // namespace

SweepResult RemoveLeftoverTempFiles(int root_fd, const SweepLimits& limits) {
  Walk walk{limits, {}, 0};
  Visit(root_fd, 0, walk);
  return walk.result;
}

}  // namespace idem::files
