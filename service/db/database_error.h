#ifndef IDEM_SERVICE_DB_DATABASE_ERROR_H_
#define IDEM_SERVICE_DB_DATABASE_ERROR_H_

#include <exception>

#include "absl/status/status.h"

namespace idem::db {

// The one place where libpqxx exceptions become absl::Status.
// Call it only from a catch block at the storage boundary. The message keeps
// PostgreSQL's primary sentence (which names columns and values, never SQL
// text) and drops the query, DETAIL/HINT lines and anything server-local.
absl::Status MapDatabaseError(const std::exception& error);

// True when the session that raised `error` must not be used again: its
// connection is lost, its last commit's outcome is unknown, or it is
// connected to a server that is not (or no longer) the primary; a fresh
// connection finds the current primary.
bool SessionUnusableAfter(const std::exception& error);

// True for outcomes that depend on the moment (connection lost, deadline,
// serialization failure, overload), false for outcomes that the same call
// would meet again (bad column, cast failure, not found, permission).
// KeyedCall stores only the latter. STORAGE_NOT_CONFIGURED (no storage
// root, or a volume the server may not write) is transient: it is the
// replica's, not the call's.
bool IsTransient(const absl::Status& status);

}  // namespace idem::db

#endif  // IDEM_SERVICE_DB_DATABASE_ERROR_H_
