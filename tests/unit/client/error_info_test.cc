// The server's rich error model as the client hands it on: google.rpc.Status
// details (grpc-status-details-bin, BatchResult.status) as payloads of the
// absl::Status, read by ErrorReason, ErrorMetadata and RetryDelay.
#include "idem/error_info.h"

#include <gmock/gmock.h>
#include <grpcpp/support/status.h>
#include <gtest/gtest.h>

#include "attempt_metadata.h"
#include "google/rpc/error_details.pb.h"

namespace idem {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Pair;

google::rpc::ErrorInfo Info(const std::string& reason,
                            const std::string& domain = "idem") {
  google::rpc::ErrorInfo info;
  info.set_reason(reason);
  info.set_domain(domain);
  return info;
}

google::rpc::Status Refusal() {
  google::rpc::Status status;
  status.set_code(static_cast<int>(absl::StatusCode::kInvalidArgument));
  status.set_message("column \"colour\" does not exist");
  google::rpc::ErrorInfo info = Info("COLUMN_UNKNOWN");
  (*info.mutable_metadata())["column"] = "colour";
  (*info.mutable_metadata())["row"] = "3";
  status.add_details()->PackFrom(info);
  google::rpc::RetryInfo retry;
  retry.mutable_retry_delay()->set_seconds(1);
  retry.mutable_retry_delay()->set_nanos(250'000'000);
  status.add_details()->PackFrom(retry);
  return status;
}

TEST(FromRpcStatus, CarriesReasonMetadataAndRetryDelay) {
  const absl::Status status = FromRpcStatus(Refusal());
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "column \"colour\" does not exist");
  EXPECT_EQ(ErrorReason(status), "COLUMN_UNKNOWN");
  EXPECT_THAT(ErrorMetadata(status),
              ElementsAre(Pair("column", "colour"), Pair("row", "3")));
  EXPECT_EQ(RetryDelay(status), absl::Milliseconds(1250));
  EXPECT_TRUE(status.GetPayload(kErrorInfoTypeUrl).has_value());
}

TEST(FromRpcStatus, WithoutDetailsThereIsNoReason) {
  google::rpc::Status bare;
  bare.set_code(static_cast<int>(absl::StatusCode::kUnavailable));
  const absl::Status status = FromRpcStatus(bare);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(ErrorReason(status), "");
  EXPECT_THAT(ErrorMetadata(status), IsEmpty());
  EXPECT_FALSE(RetryDelay(status).has_value());
  EXPECT_EQ(ErrorReason(absl::UnavailableError("plain")), "");
  EXPECT_TRUE(FromRpcStatus(google::rpc::Status()).ok());
}

TEST(FromRpcStatus, KeepsOnlyIdemsReason) {
  google::rpc::Status status;
  status.set_code(static_cast<int>(absl::StatusCode::kResourceExhausted));
  status.add_details()->PackFrom(Info("OVERLOADED", "proxy.example.com"));
  EXPECT_EQ(ErrorReason(FromRpcStatus(status)), "");
  status.add_details()->PackFrom(Info("TENANT_LIMIT"));
  EXPECT_EQ(ErrorReason(FromRpcStatus(status)), "TENANT_LIMIT");
}

TEST(ToAbslStatus, ReadsGrpcStatusDetails) {
  const google::rpc::Status rpc = Refusal();
  const absl::Status status = internal::ToAbslStatus(
      grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "bad column",
                   rpc.SerializeAsString()));
  EXPECT_EQ(status.message(), "bad column");  // gRPC's own message
  EXPECT_EQ(ErrorReason(status), "COLUMN_UNKNOWN");

  const absl::Status unreadable = internal::ToAbslStatus(
      grpc::Status(grpc::StatusCode::UNAVAILABLE, "down", "\xff\xff garbage"));
  EXPECT_EQ(unreadable.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(ErrorReason(unreadable), "");
}

}  // namespace
}  // namespace idem
