#include "service/files/copy_file.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "service/common/error_reason.h"
#include "service/files/backup.h"
#include "service/files/durable_sync.h"
#include "service/files/errno_status.h"
#include "service/files/fault_points.h"
#include "service/files/file_digest.h"
#include "service/files/folder_lock.h"
#include "service/files/relative_path.h"
#include "service/files/sandboxed_open.h"
#include "service/files/temp_file.h"

namespace idem::files {
namespace {

using idem::v1::CopyFileResponse;

CopyFileResponse Response(idem::v1::CopyOutcome outcome,
                          const FileDigest& digest) {
  CopyFileResponse response;
  response.set_outcome(outcome);
  response.set_sha256(digest.sha256_hex);
  response.set_size_bytes(digest.size);
  return response;
}

// The digest of the destination if it already holds exactly the source;
// nothing when it differs. The size decides first, without reading.
absl::StatusOr<std::optional<FileDigest>> SameContent(
    int src_fd, const struct stat& src, int dest_fd, absl::string_view src_what,
    absl::string_view dest_what, std::optional<FileDigest>* dest_digest) {
  struct stat dest;
  if (fstat(dest_fd, &dest) != 0) return ErrnoStatus(errno, dest_what);
  if (dest.st_size != src.st_size) return std::nullopt;
  auto [old, incoming] = DigestBoth(dest_fd, dest_what, src_fd, src_what);
  if (!old.ok()) return old.status();
  *dest_digest = *old;
  if (!incoming.ok()) return incoming.status();
  if (*incoming == *old) return *old;
  return std::nullopt;
}

// The destination already holds the source: UNCHANGED. A copy that crashed
// after its rename (under a key, the first run of this very call) may have
// left the file's contents or its folder's entry not yet durable, so they
// are made durable before the answer, as a copy's are.
absl::StatusOr<CopyFileResponse> Unchanged(int dest_fd, int folder_fd,
                                           const FileDigest& digest,
                                           absl::string_view dest_what) {
  if (absl::Status synced = Sync(dest_fd, dest_what); !synced.ok()) {
    return synced;
  }
  if (absl::Status synced = Sync(folder_fd, dest_what); !synced.ok()) {
    return synced;
  }
  return Response(idem::v1::COPY_OUTCOME_UNCHANGED, digest);
}

// The copy once its folder is open (`folder_fd`): what CopyFile describes
// from the folder's lock on.
absl::StatusOr<CopyFileResponse> CopyIntoFolder(
    const StorageRoot& root, int folder_fd, int src_fd,
    const struct stat& src_stat, const RelativePath& dest_path,
    const std::string& src_what, const std::string& dest_what,
    absl::Duration most_lock_wait, const PointOfNoReturn& point_of_no_return) {
  const std::string& name = dest_path.name();
  absl::StatusOr<FolderLock> lock =
      FolderLock::Acquire(folder_fd, dest_what, most_lock_wait);
  if (!lock.ok()) return lock.status();
  if (absl::Status status =
          TempFile::RemoveLeftover(folder_fd, name, dest_what);
      !status.ok()) {
    return status;
  }

  absl::StatusOr<UniqueFd> existing =
      OpenExistingDestination(folder_fd, dest_path);
  if (!existing.ok()) return existing.status();
  std::optional<FileDigest> old_digest;
  if (existing->valid()) {
    absl::StatusOr<std::optional<FileDigest>> same = SameContent(
        src_fd, src_stat, existing->get(), src_what, dest_what, &old_digest);
    if (!same.ok()) return same.status();
    if (same->has_value()) {
      return Unchanged(existing->get(), folder_fd, **same, dest_what);
    }
  }

  absl::StatusOr<TempFile> temp = TempFile::Create(folder_fd, name, dest_what);
  if (!temp.ok()) return temp.status();
  absl::StatusOr<FileDigest> digest = temp->Fill(
      src_fd, src_stat.st_mode, [&root] { return root.CopiesGoOn(); });
  if (!digest.ok()) return digest.status();

  CopyFileResponse response = Response(idem::v1::COPY_OUTCOME_COPIED, *digest);
  if (existing->valid()) {
    if (!old_digest) {
      absl::StatusOr<FileDigest> old = DigestFile(existing->get(), dest_what);
      if (!old.ok()) return old.status();
      old_digest = *old;
    }
    // The source may have changed since the first comparison into what the
    // destination already holds; then there is nothing to replace.
    if (*old_digest == *digest) {
      return Unchanged(existing->get(), folder_fd, *digest, dest_what);
    }
    absl::StatusOr<std::string> backup =
        KeepBackup(folder_fd, name, *old_digest, dest_what);
    if (!backup.ok()) return backup.status();
    const std::string parent = dest_path.ParentJoined();
    response.set_outcome(idem::v1::COPY_OUTCOME_REPLACED);
    response.set_backup_path(
        parent.empty() ? *backup : absl::StrCat(parent, "/", *backup));
  }
  if (point_of_no_return) {
    if (absl::Status go_on = point_of_no_return(response); !go_on.ok()) {
      return go_on;
    }
  }
#ifdef IDEM_FILES_FAULT_POINTS
  if (testing::Faults().before_rename) testing::Faults().before_rename();
#endif
  if (absl::Status status = temp->Commit(); !status.ok()) return status;
  return response;
}

// Whether the folder `folder_fd` was removed (it has no name left).
bool Removed(int folder_fd) {
  struct stat folder;
  return fstat(folder_fd, &folder) == 0 && folder.st_nlink == 0;
}

}  // namespace

absl::StatusOr<CopyFileResponse> CopyFile(
    const StorageRoot& root, const idem::v1::CopyFileRequest& request,
    absl::Duration most_lock_wait, const PointOfNoReturn& point_of_no_return) {
  // Both paths are checked before anything is opened.
  absl::StatusOr<RelativePath> src_path =
      ParseRelativePath("source_path", request.source_path());
  if (!src_path.ok()) return src_path.status();
  absl::StatusOr<RelativePath> dest_path =
      ParseRelativePath("destination_path", request.destination_path());
  if (!dest_path.ok()) return dest_path.status();
  const std::string src_what = absl::StrCat("source_path ", src_path->display);
  const std::string dest_what =
      absl::StrCat("destination_path ", dest_path->display);

  // The source first: a bad source must not create destination folders.
  absl::StatusOr<UniqueFd> src = OpenSourceFile(root, *src_path);
  if (!src.ok()) return src.status();
  struct stat src_stat;
  if (fstat(src->get(), &src_stat) != 0) return ErrnoStatus(errno, src_what);

  // A folder removed while the copy ran (a cleanup job) fails what the copy
  // does in it; a new start creates it again, as a new call would. Twice
  // is a concurrent change to retry, not the caller's mistake.
  for (int attempt = 1;; ++attempt) {
    absl::StatusOr<UniqueFd> folder = OpenDestinationFolder(root, *dest_path);
    if (!folder.ok()) return folder.status();
    absl::StatusOr<CopyFileResponse> copied =
        CopyIntoFolder(root, folder->get(), src->get(), src_stat, *dest_path,
                       src_what, dest_what, most_lock_wait, point_of_no_return);
    if (copied.ok() || !Removed(folder->get())) return copied;
    if (attempt == 2) {
      return Error(Reason::kRowLocked,
                   absl::StrCat(dest_what,
                                ": its folder was removed while the copy ran, "
                                "twice; retry"));
    }
  }
}

absl::StatusOr<bool> StagedCopyLanded(
    const StorageRoot& root, const idem::v1::CopyFileRequest& request,
    const idem::v1::CopyFileResponse& staged) {
  absl::StatusOr<RelativePath> dest_path =
      ParseRelativePath("destination_path", request.destination_path());
  if (!dest_path.ok()) return dest_path.status();
  const std::string dest_what =
      absl::StrCat("destination_path ", dest_path->display);
  absl::StatusOr<UniqueFd> folder = OpenDestinationFolder(root, *dest_path);
  if (!folder.ok()) return folder.status();
  absl::StatusOr<UniqueFd> existing =
      OpenExistingDestination(folder->get(), *dest_path);
  if (!existing.ok()) return existing.status();
  if (!existing->valid()) {
    if (staged.outcome() == idem::v1::COPY_OUTCOME_COPIED) return false;
  } else if (staged.outcome() == idem::v1::COPY_OUTCOME_REPLACED) {
    // The backup is a hard link to the file the copy replaced, in the
    // destination's folder.
    const std::string& backup_path = staged.backup_path();
    const std::string backup = backup_path.substr(backup_path.rfind('/') + 1);
    struct stat now, kept;
    if (fstat(existing->get(), &now) != 0) return ErrnoStatus(errno, dest_what);
    if (fstatat(folder->get(), backup.c_str(), &kept, AT_SYMLINK_NOFOLLOW) ==
            0 &&
        now.st_dev == kept.st_dev && now.st_ino == kept.st_ino) {
      return false;
    }
  }
  if (existing->valid()) {
    if (absl::Status synced = Sync(existing->get(), dest_what); !synced.ok()) {
      return synced;
    }
  }
  if (absl::Status synced = Sync(folder->get(), dest_what); !synced.ok()) {
    return synced;
  }
  return true;
}

}  // namespace idem::files
