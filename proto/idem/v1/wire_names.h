#ifndef IDEM_V1_WIRE_NAMES_H_
#define IDEM_V1_WIRE_NAMES_H_

// Names that travel on the wire beside the messages of idem.proto: metadata
// (headers and trailers) and the rich error model's domain and reasons.
// The server and the client library include this one header, so that both
// sides spell each name once.
namespace idem::v1::wire {

// Headers a client sends.
inline constexpr char kAuthorizationHeader[] = "authorization";
inline constexpr char kAttemptHeader[] = "idem-attempt";  // 1 for a first try
inline constexpr char kTraceparentHeader[] = "traceparent";  // W3C

// Trailers the server sends.
inline constexpr char kReplayedTrailer[] = "idempotent-replayed";  // "true"
// Milliseconds after which to try again (gRPC's own retry machinery reads
// it too); the same delay travels as a google.rpc.RetryInfo.
inline constexpr char kPushbackTrailer[] = "grpc-retry-pushback-ms";

// google.rpc.ErrorInfo.domain of every reason below.
inline constexpr char kErrorDomain[] = "idem";

// The reasons idem sends, grouped by the status code each comes with.
namespace reasons {
// ABORTED: the key's first call has not finished.
inline constexpr char kKeyInFlight[] = "KEY_IN_FLIGHT";
// ABORTED: lock timeout, serialization failure or deadlock.
inline constexpr char kRowLocked[] = "ROW_LOCKED";
// INVALID_ARGUMENT:
inline constexpr char kKeyInvalid[] = "KEY_INVALID";
inline constexpr char kRequestInvalid[] = "REQUEST_INVALID";
inline constexpr char kColumnUnknown[] = "COLUMN_UNKNOWN";
inline constexpr char kValueInvalid[] = "VALUE_INVALID";
inline constexpr char kLimitExceeded[] = "LIMIT_EXCEEDED";
// NOT_FOUND:
inline constexpr char kTableNotFound[] = "TABLE_NOT_FOUND";
inline constexpr char kSourceNotFound[] = "SOURCE_NOT_FOUND";
// PERMISSION_DENIED:
inline constexpr char kTableNotAllowed[] = "TABLE_NOT_ALLOWED";
inline constexpr char kOperationNotAllowed[] = "OPERATION_NOT_ALLOWED";
inline constexpr char kPathOutsideRoot[] = "PATH_OUTSIDE_ROOT";
// FAILED_PRECONDITION:
inline constexpr char kKeyMismatch[] = "KEY_MISMATCH";
inline constexpr char kConstraintViolated[] = "CONSTRAINT_VIOLATED";
inline constexpr char kStepNotApplied[] = "STEP_NOT_APPLIED";
inline constexpr char kStorageNotConfigured[] = "STORAGE_NOT_CONFIGURED";
// RESOURCE_EXHAUSTED:
inline constexpr char kOverloaded[] = "OVERLOADED";
inline constexpr char kTenantLimit[] = "TENANT_LIMIT";
inline constexpr char kDiskFull[] = "DISK_FULL";
// UNAVAILABLE:
inline constexpr char kDatabaseUnavailable[] = "DATABASE_UNAVAILABLE";
inline constexpr char kCommitUnknown[] = "COMMIT_UNKNOWN";
inline constexpr char kShuttingDown[] = "SHUTTING_DOWN";
// UNAUTHENTICATED:
inline constexpr char kCredentialsInvalid[] = "CREDENTIALS_INVALID";
}  // namespace reasons

}  // namespace idem::v1::wire

#endif  // IDEM_V1_WIRE_NAMES_H_
