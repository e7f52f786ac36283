#ifndef IDEM_SERVICE_DB_IDENTIFIERS_H_
#define IDEM_SERVICE_DB_IDENTIFIERS_H_

#include <string>

#include "absl/strings/string_view.h"

namespace idem::db {

// `name` as a PostgreSQL quoted identifier: "a""b". Statements are built only
// from catalog names passed through this, never from request text.
std::string QuoteIdentifier(absl::string_view name);

}  // namespace idem::db

#endif  // IDEM_SERVICE_DB_IDENTIFIERS_H_
