#include "attempt_metadata.h"

#include <chrono>

#include "absl/strings/str_cat.h"

namespace idem::internal {

void PrepareAttempt(grpc::ClientContext& context, absl::Duration timeout,
                    int attempt, const std::string& bearer_token) {
  // gRPC deadlines are wall-clock; only the length comes from the (possibly
  // injected) retry clock.
  context.set_deadline(std::chrono::system_clock::now() +
                       absl::ToChronoNanoseconds(timeout));
  context.AddMetadata(kAttemptHeader, absl::StrCat(attempt));
  if (!bearer_token.empty()) {
    context.AddMetadata("authorization", absl::StrCat("Bearer ", bearer_token));
  }
}

std::optional<absl::string_view> FindTrailer(const grpc::ClientContext& context,
                                             absl::string_view name) {
  const auto& trailers = context.GetServerTrailingMetadata();
  const auto it = trailers.find(grpc::string_ref(name.data(), name.size()));
  if (it == trailers.end()) return std::nullopt;
  return absl::string_view(it->second.data(), it->second.size());
}

absl::Status ToAbslStatus(const grpc::Status& status) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      status.error_message());
}

}  // namespace idem::internal
