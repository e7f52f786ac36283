#ifndef IDEM_SERVICE_COMMON_ERROR_REASON_H_
#define IDEM_SERVICE_COMMON_ERROR_REASON_H_

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace idem {

// Why a call failed, in words a program can match: sent as
// google.rpc.ErrorInfo{reason, domain "idem", metadata} with every non-OK
// status. Each reason has one status code.
enum class Reason {
  kKeyMismatch,           // FAILED_PRECONDITION
  kKeyInFlight,           // ABORTED
  kRowLocked,             // ABORTED: lock timeout, serialization, deadlock
  kKeyInvalid,            // INVALID_ARGUMENT
  kRequestInvalid,        // INVALID_ARGUMENT
  kColumnUnknown,         // INVALID_ARGUMENT
  kValueInvalid,          // INVALID_ARGUMENT
  kLimitExceeded,         // INVALID_ARGUMENT
  kTableNotFound,         // NOT_FOUND
  kSourceNotFound,        // NOT_FOUND
  kTableNotAllowed,       // PERMISSION_DENIED
  kOperationNotAllowed,   // PERMISSION_DENIED
  kPathOutsideRoot,       // PERMISSION_DENIED
  kConstraintViolated,    // FAILED_PRECONDITION
  kStepNotApplied,        // FAILED_PRECONDITION
  kStorageNotConfigured,  // FAILED_PRECONDITION
  kOverloaded,            // RESOURCE_EXHAUSTED
  kTenantLimit,           // RESOURCE_EXHAUSTED
  kDiskFull,              // RESOURCE_EXHAUSTED
  kDatabaseUnavailable,   // UNAVAILABLE
  kCommitUnknown,         // UNAVAILABLE
  kShuttingDown,          // UNAVAILABLE
  kCredentialsInvalid,    // UNAUTHENTICATED
};

// "KEY_MISMATCH", ...
absl::string_view ReasonName(Reason reason);
absl::StatusCode CodeOf(Reason reason);

// Names the metadata of an error: which table, column, row (0-based index
// in the request), step (0-based) or constraint is at fault.
using ErrorMetadata =
    std::vector<std::pair<absl::string_view, absl::string_view>>;

// A status with `reason`'s code, `message` (for a person) and `reason` and
// `metadata` (for a program).
absl::Status Error(Reason reason, absl::string_view message,
                   const ErrorMetadata& metadata = {});

// `status` with one more metadata entry (for a layer that knows more, such
// as the step of a transaction a failure came from).
absl::Status WithErrorMetadata(absl::Status status, absl::string_view key,
                               absl::string_view value);

// `status` with its message prefixed ("row 3: ") and everything else kept.
absl::Status WithMessagePrefix(const absl::Status& status,
                               absl::string_view prefix);

// The reason `status` carries, if any (its name), and its metadata.
std::optional<std::string> ReasonOf(const absl::Status& status);
std::map<std::string, std::string> MetadataOf(const absl::Status& status);

// `status` with what an operator needs beside the caller's message, such
// as libpq's reason a connection failed (refused, unknown role, wrong
// password, TLS): logged, never sent to a caller.
absl::Status WithOperatorCause(absl::Status status, absl::string_view cause);
std::optional<std::string> OperatorCauseOf(const absl::Status& status);

// `status` marked as a failure that depends on the database's objects as
// they are now (a name that resolves to nothing, a function a trigger
// calls, a grant the server's role lacks), not on the call alone: it is
// not kept under a key, so that the call runs once they change. Never
// sent to a caller.
absl::Status OnTheDatabasesObjects(absl::Status status);
bool IsOnTheDatabasesObjects(const absl::Status& status);

// `status` with PostgreSQL's DETAIL of the failure ("Key (email)=(a@b)
// already exists.", "Failing row contains (...)."), which quotes the
// values at fault: read to find the request's row, never sent to a caller
// nor logged.
absl::Status WithDatabaseDetail(absl::Status status, absl::string_view detail);
std::optional<std::string> DatabaseDetailOf(const absl::Status& status);
// `status` without it, once read: as stored and replayed.
absl::Status WithoutDatabaseDetail(absl::Status status);

// `status` with `reason` and `metadata` attached as they were read back
// (a stored failure replayed).
absl::Status WithReasonNamed(
    absl::Status status, absl::string_view reason,
    const std::map<std::string, std::string>& metadata);

}  // namespace idem

#endif  // IDEM_SERVICE_COMMON_ERROR_REASON_H_
