#include "service/files/temp_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "absl/strings/str_cat.h"
#include "service/files/copy_contents.h"
#include "service/files/durable_sync.h"
#include "service/files/errno_status.h"
#include "service/files/file_names.h"
#include "service/files/following_digest.h"

namespace idem::files {

absl::Status TempFile::RemoveLeftover(int folder_fd,
                                      const std::string& dest_name,
                                      absl::string_view what) {
  // On a read-only volume nothing can be left over that this server could
  // remove, and a destination that already holds the source needs no
  // write: the copy goes on, and fails only if it must write.
  if (unlinkat(folder_fd, TempName(dest_name).c_str(), 0) != 0 &&
      errno != ENOENT && errno != EROFS) {
    return ErrnoStatus(errno, absl::StrCat("cleaning up after ", what));
  }
  return absl::OkStatus();
}

absl::StatusOr<TempFile> TempFile::Create(int folder_fd,
                                          const std::string& dest_name,
                                          std::string what) {
  std::string temp_name = TempName(dest_name);
  // O_EXCL | O_NOFOLLOW: never write through anything already at that name.
  UniqueFd fd(openat(folder_fd, temp_name.c_str(),
                     O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd.valid()) return ErrnoStatus(errno, absl::StrCat("writing ", what));
  return TempFile(folder_fd, dest_name, std::move(temp_name), std::move(fd),
                  std::move(what));
}

TempFile::TempFile(int folder_fd, std::string dest_name, std::string temp_name,
                   UniqueFd fd, std::string what)
    : folder_fd_(folder_fd),
      dest_name_(std::move(dest_name)),
      temp_name_(std::move(temp_name)),
      fd_(std::move(fd)),
      what_(std::move(what)) {}

TempFile::TempFile(TempFile&& other) noexcept
    : folder_fd_(other.folder_fd_),
      dest_name_(std::move(other.dest_name_)),
      temp_name_(std::move(other.temp_name_)),
      fd_(std::move(other.fd_)),
      what_(std::move(other.what_)),
      owned_(std::exchange(other.owned_, false)) {}

TempFile::~TempFile() {
  if (owned_) unlinkat(folder_fd_, temp_name_.c_str(), 0);
}

absl::StatusOr<FileDigest> TempFile::Fill(
    int src_fd, mode_t mode, absl::FunctionRef<absl::Status()> go_on) {
  const std::string what = absl::StrCat("writing ", what_);
  // Hashes what was written, not what was read: that is what the caller
  // gets. It follows the copy and then the fsync on a thread of its own.
  FollowingDigest digest(fd_.get(), what);
  if (absl::Status status = CopyContents(src_fd, fd_.get(), what,
                                         [&](uint64_t end) {
                                           digest.WrittenUpTo(end);
                                           return go_on();
                                         });
      !status.ok()) {
    return status;
  }
  // Only the permission bits: set-id bits on a copy would grant what the
  // caller never asked for.
  if (fchmod(fd_.get(), mode & 0777) != 0) return ErrnoStatus(errno, what);
  if (absl::Status synced = Sync(fd_.get(), what); !synced.ok()) {
    return synced;
  }
  return digest.Finish();
}

absl::Status TempFile::Commit() {
  const std::string what = absl::StrCat("writing ", what_);
  if (renameat(folder_fd_, temp_name_.c_str(), folder_fd_,
               dest_name_.c_str()) != 0) {
    return ErrnoStatus(errno, what);
  }
  owned_ = false;
  return Sync(folder_fd_, what);
}

}  // namespace idem::files
