#include "service/auth/caller.h"

namespace idem::auth {

absl::string_view OperationName(Operation operation) {
  switch (operation) {
    case Operation::kInsert:
      return "insert";
    case Operation::kUpdate:
      return "update";
    case Operation::kCopyFile:
      return "copy_file";
    case Operation::kKeyedCall:
      return "keyed_call";
    case Operation::kReadKeys:
      return "read_keys";
    case Operation::kForgetKeys:
      return "forget_keys";
  }
  return "unknown";
}

bool Caller::Allows(Operation operation) const {
  return all_operations || operations.count(operation) > 0;
}

bool Caller::AllowsTable(absl::string_view table) const {
  if (all_tables) return true;
  size_t dot = table.find('.');
  absl::string_view bare =
      dot == absl::string_view::npos ? table : table.substr(dot + 1);
  for (const std::string& entry : tables) {
    if (entry == table || entry == bare) return true;
  }
  return false;
}

}  // namespace idem::auth
