#ifndef IDEM_SERVICE_FILES_COPY_CONTENTS_H_
#define IDEM_SERVICE_FILES_COPY_CONTENTS_H_

#include <cstdint>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace idem::files {

// Copies `src_fd` from offset 0 up to its end into `dst_fd` from offset 0,
// in bounded chunks so memory stays flat for any size: copy_file_range while
// the kernel accepts it for this pair of files (no data through user space,
// reflinks where the file system has them), pread/pwrite otherwise. `what`
// names the copy in errors; a full volume is RESOURCE_EXHAUSTED. After each
// chunk, `copied_up_to(end)`: every byte before `end` is written; a status
// it returns that is not OK ends the copy with it.
absl::Status CopyContents(
    int src_fd, int dst_fd, absl::string_view what,
    absl::FunctionRef<absl::Status(uint64_t)> copied_up_to);

}  // namespace idem::files

#endif  // IDEM_SERVICE_FILES_COPY_CONTENTS_H_
