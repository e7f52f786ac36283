#include "service/db/identifiers.h"

#include "absl/strings/str_replace.h"

namespace idem::db {

std::string QuoteIdentifier(absl::string_view name) {
  return "\"" + absl::StrReplaceAll(name, {{"\"", "\"\""}}) + "\"";
}

}  // namespace idem::db
