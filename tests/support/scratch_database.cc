#include "tests/support/scratch_database.h"

namespace idem::testing {

std::string DatabaseUrlOf(const std::string& database) {
  std::string url = DatabaseUrl();
  size_t query = url.find('?');
  size_t slash = url.rfind('/', query);
  return url.substr(0, slash + 1) + database +
         (query == std::string::npos ? "" : url.substr(query));
}

ScratchDatabase::ScratchDatabase(const std::string& prefix)
    : name_(TestDatabase::UniqueName(prefix)), url_(DatabaseUrlOf(name_)) {
  admin_.Exec("CREATE DATABASE " + name_);
}

ScratchDatabase::~ScratchDatabase() {
  admin_.Exec("DROP DATABASE " + name_ + " WITH (FORCE)");
}

void ScratchDatabase::AllowConnections(bool allow) {
  admin_.Exec("ALTER DATABASE " + name_ + " ALLOW_CONNECTIONS " +
              (allow ? "true" : "false"));
}

}  // namespace idem::testing
