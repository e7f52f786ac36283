#ifndef IDEM_SERVICE_COMMON_FILE_TEXT_H_
#define IDEM_SERVICE_COMMON_FILE_TEXT_H_

#include <optional>
#include <string>

namespace idem {

// The whole content of the regular file at `path` (links followed), or
// nullopt when it cannot be opened or is no regular file: a folder opens as
// a stream too, and would read as nothing.
std::optional<std::string> ReadRegularFile(const std::string& path);

}  // namespace idem

#endif  // IDEM_SERVICE_COMMON_FILE_TEXT_H_
