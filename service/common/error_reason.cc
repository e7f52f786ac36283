#include "service/common/error_reason.h"

#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "idem/v1/wire_names.h"

namespace idem {
namespace {

namespace reasons = v1::wire::reasons;

// Carried as payloads of the absl::Status until the gRPC surface turns
// them into an ErrorInfo.
constexpr char kReasonUrl[] = "type.idem.dev/error-reason";
// Read only by the logs: ToGrpcStatus sends the reason, the metadata and
// the retry delay, nothing else.
constexpr char kOperatorCauseUrl[] = "type.idem.dev/operator-cause";
constexpr char kOnTheDatabasesObjectsUrl[] =
    "type.idem.dev/on-the-databases-objects";
// Read only to locate a failure in its request (failure_location.h).
constexpr char kDatabaseDetailUrl[] = "type.idem.dev/database-detail";
constexpr absl::string_view kMetadataUrlPrefix =
    "type.idem.dev/error-metadata/";

struct ReasonInfo {
  absl::string_view name;
  absl::StatusCode code;
};

ReasonInfo InfoOf(Reason reason) {
  using C = absl::StatusCode;
  switch (reason) {
    case Reason::kKeyMismatch:
      return {reasons::kKeyMismatch, C::kFailedPrecondition};
    case Reason::kKeyInFlight:
      return {reasons::kKeyInFlight, C::kAborted};
    case Reason::kRowLocked:
      return {reasons::kRowLocked, C::kAborted};
    case Reason::kKeyInvalid:
      return {reasons::kKeyInvalid, C::kInvalidArgument};
    case Reason::kRequestInvalid:
      return {reasons::kRequestInvalid, C::kInvalidArgument};
    case Reason::kColumnUnknown:
      return {reasons::kColumnUnknown, C::kInvalidArgument};
    case Reason::kValueInvalid:
      return {reasons::kValueInvalid, C::kInvalidArgument};
    case Reason::kLimitExceeded:
      return {reasons::kLimitExceeded, C::kInvalidArgument};
    case Reason::kTableNotFound:
      return {reasons::kTableNotFound, C::kNotFound};
    case Reason::kSourceNotFound:
      return {reasons::kSourceNotFound, C::kNotFound};
    case Reason::kTableNotAllowed:
      return {reasons::kTableNotAllowed, C::kPermissionDenied};
    case Reason::kOperationNotAllowed:
      return {reasons::kOperationNotAllowed, C::kPermissionDenied};
    case Reason::kPathOutsideRoot:
      return {reasons::kPathOutsideRoot, C::kPermissionDenied};
    case Reason::kConstraintViolated:
      return {reasons::kConstraintViolated, C::kFailedPrecondition};
    case Reason::kStepNotApplied:
      return {reasons::kStepNotApplied, C::kFailedPrecondition};
    case Reason::kStorageNotConfigured:
      return {reasons::kStorageNotConfigured, C::kFailedPrecondition};
    case Reason::kOverloaded:
      return {reasons::kOverloaded, C::kResourceExhausted};
    case Reason::kTenantLimit:
      return {reasons::kTenantLimit, C::kResourceExhausted};
    case Reason::kDiskFull:
      return {reasons::kDiskFull, C::kResourceExhausted};
    case Reason::kDatabaseUnavailable:
      return {reasons::kDatabaseUnavailable, C::kUnavailable};
    case Reason::kCommitUnknown:
      return {reasons::kCommitUnknown, C::kUnavailable};
    case Reason::kShuttingDown:
      return {reasons::kShuttingDown, C::kUnavailable};
    case Reason::kCredentialsInvalid:
      return {reasons::kCredentialsInvalid, C::kUnauthenticated};
  }
  return {"UNKNOWN", C::kUnknown};
}

}  // namespace

absl::string_view ReasonName(Reason reason) { return InfoOf(reason).name; }
absl::StatusCode CodeOf(Reason reason) { return InfoOf(reason).code; }

absl::Status Error(Reason reason, absl::string_view message,
                   const ErrorMetadata& metadata) {
  absl::Status status(CodeOf(reason), message);
  status.SetPayload(kReasonUrl, absl::Cord(ReasonName(reason)));
  for (const auto& [key, value] : metadata) {
    status = WithErrorMetadata(std::move(status), key, value);
  }
  return status;
}

absl::Status WithErrorMetadata(absl::Status status, absl::string_view key,
                               absl::string_view value) {
  status.SetPayload(absl::StrCat(kMetadataUrlPrefix, key), absl::Cord(value));
  return status;
}

absl::Status WithMessagePrefix(const absl::Status& status,
                               absl::string_view prefix) {
  absl::Status prefixed(status.code(), absl::StrCat(prefix, status.message()));
  status.ForEachPayload([&](absl::string_view url, const absl::Cord& value) {
    prefixed.SetPayload(url, value);
  });
  return prefixed;
}

std::optional<std::string> ReasonOf(const absl::Status& status) {
  absl::optional<absl::Cord> reason = status.GetPayload(kReasonUrl);
  if (!reason.has_value()) return std::nullopt;
  return std::string(*reason);
}

absl::Status WithOperatorCause(absl::Status status, absl::string_view cause) {
  status.SetPayload(kOperatorCauseUrl, absl::Cord(cause));
  return status;
}

std::optional<std::string> OperatorCauseOf(const absl::Status& status) {
  absl::optional<absl::Cord> cause = status.GetPayload(kOperatorCauseUrl);
  if (!cause.has_value()) return std::nullopt;
  return std::string(*cause);
}

absl::Status OnTheDatabasesObjects(absl::Status status) {
  status.SetPayload(kOnTheDatabasesObjectsUrl, absl::Cord());
  return status;
}

bool IsOnTheDatabasesObjects(const absl::Status& status) {
  return status.GetPayload(kOnTheDatabasesObjectsUrl).has_value();
}

absl::Status WithDatabaseDetail(absl::Status status, absl::string_view detail) {
  status.SetPayload(kDatabaseDetailUrl, absl::Cord(detail));
  return status;
}

std::optional<std::string> DatabaseDetailOf(const absl::Status& status) {
  absl::optional<absl::Cord> detail = status.GetPayload(kDatabaseDetailUrl);
  if (!detail.has_value()) return std::nullopt;
  return std::string(*detail);
}

absl::Status WithoutDatabaseDetail(absl::Status status) {
  status.ErasePayload(kDatabaseDetailUrl);
  return status;
}

std::map<std::string, std::string> MetadataOf(const absl::Status& status) {
  std::map<std::string, std::string> metadata;
  status.ForEachPayload([&](absl::string_view url, const absl::Cord& value) {
    if (absl::StartsWith(url, kMetadataUrlPrefix)) {
      metadata[std::string(url.substr(kMetadataUrlPrefix.size()))] =
          std::string(value);
    }
  });
  return metadata;
}

absl::Status WithReasonNamed(
    absl::Status status, absl::string_view reason,
    const std::map<std::string, std::string>& metadata) {
  status.SetPayload(kReasonUrl, absl::Cord(reason));
  for (const auto& [key, value] : metadata) {
    status = WithErrorMetadata(std::move(status), key, value);
  }
  return status;
}

}  // namespace idem
