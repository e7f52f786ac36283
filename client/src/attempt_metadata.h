#ifndef IDEM_CLIENT_SRC_ATTEMPT_METADATA_H_
#define IDEM_CLIENT_SRC_ATTEMPT_METADATA_H_

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>
#include <grpcpp/support/status.h>

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "idem/client.h"
#include "idem/v1/wire_names.h"

namespace idem::internal {

using v1::wire::kAttemptHeader;
using v1::wire::kPushbackTrailer;
using v1::wire::kReplayedTrailer;

// Deadline, attempt number, credentials and the caller's metadata of one
// attempt.
void PrepareAttempt(grpc::ClientContext& context, absl::Duration timeout,
                    int attempt, const std::string& bearer_token,
                    const CallMetadata& metadata);

// INVALID_ARGUMENT when gRPC could not send these as headers (it aborts the
// process on them): a bearer token of other than visible ASCII (a newline
// read with it from a file), a metadata key of other than lower-case
// letters, digits, '-', '_' and '.', or a value, of a key not ending in
// "-bin", with a character outside printable ASCII. The message names the
// key, never the token nor a value.
absl::Status CheckHeaders(const std::string& bearer_token,
                          const CallMetadata& metadata);

std::optional<absl::string_view> FindTrailer(const grpc::ClientContext& context,
                                             absl::string_view name);

// The status with the details of its grpc-status-details-bin (error_info.h).
absl::Status ToAbslStatus(const grpc::Status& status);

// An attempt's status (ToAbslStatus) as the retry decision reads it, with
// whether the attempt found no connection: gRPC's own failure (no reason
// of idem's) while `channel` was not connected when the attempt was sent
// (`connected_at_send`) nor is now. A connection that dropped under the
// attempt is not "no connection": gRPC may mark the channel unconnected
// before the failure is read. A retry waits for the channel
// (PrepareAttempt); one whose deadline passed with the channel still not
// connected never reached a server, and is UNAVAILABLE, not
// DEADLINE_EXCEEDED, which would say a server was too slow to answer.
struct AttemptStatus {
  absl::Status status;
  bool without_connection = false;
};
AttemptStatus ReadAttemptStatus(const grpc::Status& status, int attempt,
                                bool connected_at_send, grpc::Channel& channel);
// Whether `channel` is connected now, for ReadAttemptStatus.
bool Connected(grpc::Channel& channel);

}  // namespace idem::internal

#endif  // IDEM_CLIENT_SRC_ATTEMPT_METADATA_H_
