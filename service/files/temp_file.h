#ifndef IDEM_SERVICE_FILES_TEMP_FILE_H_
#define IDEM_SERVICE_FILES_TEMP_FILE_H_

#include <sys/types.h>

#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "service/files/file_digest.h"
#include "service/files/unique_fd.h"

namespace idem::files {

// The temporary file a copy fills before renaming it over its destination,
// in the destination's folder so that the rename is atomic. It is removed
// when destroyed unless it was renamed into place: no error leaves one
// behind. Only a crash does, and the next copy to the same destination
// removes it (RemoveLeftover). Every member expects the folder's lock held.
class TempFile {
 public:
  // Removes the temporary file a crashed copy to `dest_name` left behind.
  static absl::Status RemoveLeftover(int folder_fd,
                                     const std::string& dest_name,
                                     absl::string_view what);

  // Creates the temporary file for `dest_name` in `folder_fd` (borrowed: it
  // must outlive this object). `what` names the destination in errors.
  static absl::StatusOr<TempFile> Create(int folder_fd,
                                         const std::string& dest_name,
                                         std::string what);

  TempFile(TempFile&& other) noexcept;
  TempFile& operator=(TempFile&&) = delete;
  ~TempFile();

  // Copies all of `src_fd` in, sets the permission bits of `mode`, fsyncs,
  // and returns the digest of what is now on disk. After each chunk asks
  // `go_on`, whose status, when not OK, ends the copy.
  absl::StatusOr<FileDigest> Fill(int src_fd, mode_t mode,
                                  absl::FunctionRef<absl::Status()> go_on);

  // Renames the file over its destination and fsyncs the folder, making the
  // new name durable. Afterwards the destructor leaves the file alone.
  absl::Status Commit();

 private:
  TempFile(int folder_fd, std::string dest_name, std::string temp_name,
           UniqueFd fd, std::string what);

  int folder_fd_;
  std::string dest_name_;
  std::string temp_name_;
  UniqueFd fd_;
  std::string what_;
  bool owned_ = true;  // false once renamed or moved from
};

}  // namespace idem::files

#endif  // IDEM_SERVICE_FILES_TEMP_FILE_H_
