#include "service/common/file_text.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

namespace idem {

std::optional<std::string> ReadRegularFile(const std::string& path) {
  std::error_code error;
  if (!std::filesystem::is_regular_file(path, error)) return std::nullopt;
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

}  // namespace idem
