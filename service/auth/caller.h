#ifndef IDEM_SERVICE_AUTH_CALLER_H_
#define IDEM_SERVICE_AUTH_CALLER_H_

#include <set>
#include <string>

#include "absl/strings/string_view.h"

namespace idem::auth {

enum class Operation {
  kInsert,
  kUpdate,
  kCopyFile,
  kKeyedCall,
  kReadKeys,
  kForgetKeys
};

// "insert", "update", "copy_file", "keyed_call", "read_keys", "forget_keys":
// the names of the tokens file.
absl::string_view OperationName(Operation operation);

// Who is calling, as established from credentials only (never from a
// request field), and what they may do. The tenant scopes every
// idempotency key.
struct Caller {
  std::string tenant;
  bool all_tables = true;
  std::set<std::string> tables;  // entries as in the tokens file
  bool all_operations = true;
  std::set<Operation> operations;

  bool Allows(Operation operation) const;
  // `table` is the catalog's schema.name; an entry without a schema matches
  // any schema.
  bool AllowsTable(absl::string_view table) const;
};

}  // namespace idem::auth

#endif  // IDEM_SERVICE_AUTH_CALLER_H_
