#include "attempt_metadata.h"

#include <algorithm>
#include <chrono>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "google/rpc/status.pb.h"
#include "idem/error_info.h"

namespace idem::internal {

namespace {

bool AllOf(absl::string_view text, bool (*allowed)(char)) {
  return std::all_of(text.begin(), text.end(), allowed);
}

}  // namespace

absl::Status CheckHeaders(const std::string& bearer_token,
                          const CallMetadata& metadata) {
  if (!AllOf(bearer_token, [](char c) { return c >= '!' && c <= '~'; })) {
    return absl::InvalidArgumentError(
        "bearer_token holds a space, a control character or a non-ASCII "
        "character, which a header cannot carry (one read from a file may "
        "end in a newline: strip it)");
  }
  for (const auto& [key, value] : metadata) {
    if (key.empty() || !AllOf(key, [](char c) {
          return absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '-' ||
                 c == '_' || c == '.';
        })) {
      return absl::InvalidArgumentError(absl::StrCat(
          "call metadata key \"", absl::CHexEscape(key),
          "\" is not a header name: lower-case letters, digits, '-', '_' "
          "and '.' only"));
    }
    if (!absl::EndsWith(key, "-bin") &&
        !AllOf(value, [](char c) { return c >= ' ' && c <= '~'; })) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the value of call metadata key \"", key,
          "\" holds a character a header cannot carry; binary values need "
          "a key ending in \"-bin\""));
    }
  }
  return absl::OkStatus();
}

void PrepareAttempt(grpc::ClientContext& context, absl::Duration timeout,
                    int attempt, const std::string& bearer_token,
                    const CallMetadata& metadata) {
  // gRPC deadlines are wall-clock; only the length comes from the (possibly
  // injected) retry clock.
  context.set_deadline(std::chrono::system_clock::now() +
                       absl::ToChronoNanoseconds(timeout));
  // A retry waits for the channel to connect, up to its deadline, rather
  // than fail at once while gRPC waits to reconnect: so a call rides through
  // a restart of its server (a killed pod, a rolling update). The first
  // attempt fails fast, as gRPC's calls do.
  context.set_wait_for_ready(attempt > 1);
  context.AddMetadata(kAttemptHeader, absl::StrCat(attempt));
  if (!bearer_token.empty()) {
    context.AddMetadata(v1::wire::kAuthorizationHeader,
                        absl::StrCat("Bearer ", bearer_token));
  }
  for (const auto& [key, value] : metadata) context.AddMetadata(key, value);
}

std::optional<absl::string_view> FindTrailer(const grpc::ClientContext& context,
                                             absl::string_view name) {
  const auto& trailers = context.GetServerTrailingMetadata();
  const auto it = trailers.find(grpc::string_ref(name.data(), name.size()));
  if (it == trailers.end()) return std::nullopt;
  return absl::string_view(it->second.data(), it->second.size());
}

absl::Status ToAbslStatus(const grpc::Status& status) {
  google::rpc::Status rpc;
  // Unreadable details are left out: the code alone still decides.
  if (!rpc.ParseFromString(status.error_details())) rpc.Clear();
  // The status's own code and message are the ones gRPC vouches for.
  rpc.set_code(status.error_code());
  rpc.set_message(status.error_message());
  return FromRpcStatus(rpc);
}

bool Connected(grpc::Channel& channel) {
  return channel.GetState(/*try_to_connect=*/false) == GRPC_CHANNEL_READY;
}

AttemptStatus ReadAttemptStatus(const grpc::Status& status, int attempt,
                                bool connected_at_send,
                                grpc::Channel& channel) {
  AttemptStatus read{ToAbslStatus(status)};
  if (read.status.ok() || !ErrorReason(read.status).empty() ||
      connected_at_send || Connected(channel)) {
    return read;
  }
  if (attempt > 1 &&
      read.status.code() == absl::StatusCode::kDeadlineExceeded) {
    read.status = absl::UnavailableError(
        absl::StrCat("no connection to the server within the attempt's "
                     "deadline (",
                     read.status.message(), ")"));
  }
  read.without_connection =
      read.status.code() == absl::StatusCode::kUnavailable;
  return read;
}

}  // namespace idem::internal
