#ifndef IDEM_SERVICE_DB_MIGRATIONS_H_
#define IDEM_SERVICE_DB_MIGRATIONS_H_

#include <string>
#include <vector>

namespace idem::db {

// One versioned step of the `idem` schema, from
// service/db/migrations/NNNN_name.sql (embedded at build time).
struct Migration {
  int version;
  const char* name;
  const char* sql;
};

// Every migration, in version order.
const std::vector<Migration>& Migrations();

}  // namespace idem::db

#endif  // IDEM_SERVICE_DB_MIGRATIONS_H_
