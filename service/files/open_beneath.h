#ifndef IDEM_SERVICE_FILES_OPEN_BENEATH_H_
#define IDEM_SERVICE_FILES_OPEN_BENEATH_H_

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "service/files/unique_fd.h"

namespace idem::files {

// openat2(dir_fd, path, {flags, mode, RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS
// | extra_resolve}) through syscall(): glibc 2.36 has no wrapper. The kernel
// resolves every component, symbolic links included, and refuses (EXDEV) any
// step that would leave `dir_fd`, so a link swapped in at any moment cannot
// lead out. Retried on EAGAIN, which the kernel returns when a concurrent
// rename makes the check unreliable. On failure the result is invalid and
// *error holds the errno.
UniqueFd OpenBeneath(int dir_fd, const std::string& path, int flags, int* error,
                     uint64_t extra_resolve = 0, mode_t mode = 0);

}  // namespace idem::files

#endif  // IDEM_SERVICE_FILES_OPEN_BENEATH_H_
