#include "service/files/file_names.h"

#include <climits>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "service/common/sha256.h"

namespace idem::files {

std::string TempName(absl::string_view name) {
  if (kTempPrefix.size() + name.size() <= NAME_MAX) {
    return absl::StrCat(kTempPrefix, name);
  }
  // Too long to embed: a hash of the name is just as unique per destination.
  return absl::StrCat(kTempPrefix,
                      Sha256Hex(std::string_view(name.data(), name.size())));
}

std::string BackupName(absl::string_view name, absl::string_view sha256_hex,
                       int attempt) {
  std::string suffix = absl::StrCat(".idem-backup-", sha256_hex.substr(0, 16));
  if (attempt > 1) absl::StrAppend(&suffix, ".", attempt);
  if (name.size() + suffix.size() <= NAME_MAX)
    return absl::StrCat(name, suffix);
  // Cut short, the name keeps a hash of its whole self, so that names that
  // differ only past the cut do not share a backup.
  const std::string whole_name_hash =
      Sha256Hex(std::string_view(name.data(), name.size())).substr(0, 8);
  return absl::StrCat(name.substr(0, NAME_MAX - suffix.size() - 9), "~",
                      whole_name_hash, suffix);
}

}  // namespace idem::files
