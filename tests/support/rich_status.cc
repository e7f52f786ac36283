#include "tests/support/rich_status.h"

#include <gtest/gtest.h>

#include <map>

namespace idem::testing {

std::optional<google::rpc::Status> RichStatusOf(const grpc::Status& status) {
  google::rpc::Status rich;
  if (status.error_details().empty() ||
      !rich.ParseFromString(status.error_details())) {
    return std::nullopt;
  }
  return rich;
}

std::optional<google::rpc::ErrorInfo> ErrorInfoOf(
    const google::rpc::Status& rich) {
  for (const google::protobuf::Any& detail : rich.details()) {
    google::rpc::ErrorInfo info;
    if (detail.UnpackTo(&info)) return info;
  }
  return std::nullopt;
}

std::optional<absl::Duration> RetryDelayOf(const google::rpc::Status& rich) {
  for (const google::protobuf::Any& detail : rich.details()) {
    google::rpc::RetryInfo retry;
    if (detail.UnpackTo(&retry)) {
      return absl::Seconds(retry.retry_delay().seconds()) +
             absl::Nanoseconds(retry.retry_delay().nanos());
    }
  }
  return std::nullopt;
}

std::string ReasonOf(const grpc::Status& status) {
  std::optional<google::rpc::Status> rich = RichStatusOf(status);
  if (!rich.has_value()) {
    ADD_FAILURE() << "no grpc-status-details-bin on " << status.error_code()
                  << ": " << status.error_message();
    return "";
  }
  EXPECT_EQ(rich->code(), status.error_code());
  EXPECT_EQ(rich->message(), status.error_message());
  std::optional<google::rpc::ErrorInfo> info = ErrorInfoOf(*rich);
  if (!info.has_value()) {
    ADD_FAILURE() << "no ErrorInfo in the details";
    return "";
  }
  EXPECT_EQ(info->domain(), "idem");
  return info->reason();
}

grpc::StatusCode CodeOfReason(const std::string& reason) {
  using C = grpc::StatusCode;
  static const auto* const kCodes = new std::map<std::string, C>{
      {"KEY_MISMATCH", C::FAILED_PRECONDITION},
      {"KEY_IN_FLIGHT", C::ABORTED},
      {"ROW_LOCKED", C::ABORTED},
      {"KEY_INVALID", C::INVALID_ARGUMENT},
      {"REQUEST_INVALID", C::INVALID_ARGUMENT},
      {"COLUMN_UNKNOWN", C::INVALID_ARGUMENT},
      {"VALUE_INVALID", C::INVALID_ARGUMENT},
      {"LIMIT_EXCEEDED", C::INVALID_ARGUMENT},
      {"TABLE_NOT_FOUND", C::NOT_FOUND},
      {"SOURCE_NOT_FOUND", C::NOT_FOUND},
      {"TABLE_NOT_ALLOWED", C::PERMISSION_DENIED},
      {"OPERATION_NOT_ALLOWED", C::PERMISSION_DENIED},
      {"PATH_OUTSIDE_ROOT", C::PERMISSION_DENIED},
      {"CONSTRAINT_VIOLATED", C::FAILED_PRECONDITION},
      {"STEP_NOT_APPLIED", C::FAILED_PRECONDITION},
      {"STORAGE_NOT_CONFIGURED", C::FAILED_PRECONDITION},
      {"OVERLOADED", C::RESOURCE_EXHAUSTED},
      {"TENANT_LIMIT", C::RESOURCE_EXHAUSTED},
      {"DISK_FULL", C::RESOURCE_EXHAUSTED},
      {"DATABASE_UNAVAILABLE", C::UNAVAILABLE},
      {"COMMIT_UNKNOWN", C::UNAVAILABLE},
      {"SHUTTING_DOWN", C::UNAVAILABLE},
      {"CREDENTIALS_INVALID", C::UNAUTHENTICATED},
  };
  auto it = kCodes->find(reason);
  EXPECT_NE(it, kCodes->end()) << "not a reason of the contract: " << reason;
  return it == kCodes->end() ? C::UNKNOWN : it->second;
}

void ExpectRefusal(const grpc::Status& status, const Refusal& expected) {
  EXPECT_EQ(status.error_code(), expected.code) << status.error_message();
  if (expected.reason.empty()) return;
  EXPECT_EQ(ReasonOf(status), expected.reason) << status.error_message();
}

}  // namespace idem::testing
