#include "service/files/open_beneath.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

namespace idem::files {
namespace {

// EAGAIN only repeats while renames keep racing the lookup; give up after
// this many tries rather than spin, and report the EAGAIN.
constexpr int kMaxAttempts = 64;

}  // namespace

UniqueFd OpenBeneath(int dir_fd, const std::string& path, int flags, int* error,
                     uint64_t extra_resolve, mode_t mode) {
  open_how how{};
  how.flags = static_cast<uint64_t>(flags) | O_CLOEXEC;
  how.mode = mode;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | extra_resolve;
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    long fd = syscall(SYS_openat2, dir_fd, path.c_str(), &how, sizeof(how));
    if (fd >= 0) return UniqueFd(static_cast<int>(fd));
    *error = errno;
    if (*error != EAGAIN && *error != EINTR) break;
  }
  return UniqueFd();
}

}  // namespace idem::files
