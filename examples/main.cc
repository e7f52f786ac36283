// Increments a counter exactly once, however often the call is retried.
//   idem_example [target] [--expect-unavailable]
// The target defaults to $IDEM_TARGET, else localhost:50051 (scripts/run).
// With --expect-unavailable it succeeds when no server answers (the install
// test runs it that way) and fails otherwise.
#include <cstdlib>
#include <iostream>
#include <string>

#include "idem/client.h"

int main(int argc, char** argv) {
  idem::ClientOptions options;
  const char* env_target = std::getenv("IDEM_TARGET");
  options.target = argc > 1                ? argv[1]
                   : env_target != nullptr ? env_target
                                           : "localhost:50051";
  const bool expect_unavailable =
      argc > 2 && std::string(argv[2]) == "--expect-unavailable";
  options.retry.max_attempts = 3;
  options.retry.total_timeout = absl::Seconds(5);

  absl::StatusOr<idem::Client> client = idem::Client::Create(options);
  if (!client.ok()) {
    std::cerr << client.status() << "\n";
    return 1;
  }

  idem::v1::UpdateRequest increment;
  increment.set_table("counters");
  *increment.mutable_key() = idem::MakeRow({{"id", 1}});
  *increment.mutable_increment() = idem::MakeRow({{"n", 1}});
  // One key for this logical operation, reused by every retry.
  const idem::v1::KeyedCallRequest once = idem::ExactlyOnce(increment);

  idem::CallInfo info;
  absl::StatusOr<idem::v1::KeyedCallResponse> result =
      client->KeyedCall(once, {}, &info);
  std::cout << "status: " << info.final_status
            << ", attempts: " << info.attempts
            << ", replayed: " << info.replayed
            << ", key: " << info.idempotency_key << "\n";
  if (expect_unavailable) {
    return result.status().code() == absl::StatusCode::kUnavailable ? 0 : 1;
  }
  return result.ok() ? 0 : 1;
}
