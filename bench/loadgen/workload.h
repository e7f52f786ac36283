#ifndef IDEM_BENCH_LOADGEN_WORKLOAD_H_
#define IDEM_BENCH_LOADGEN_WORKLOAD_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/types/optional.h"
#include "idem/client.h"

namespace idem::bench {

// What each call of a run sends.
enum class Mix {
  kInsert,          // Insert of one row with a fresh id
  kKeyedInsert,     // KeyedCall{Insert of one row} with a fresh key
  kReplay,          // KeyedCall replay of one of a pre-made set of keys
  kKeyedIncrement,  // KeyedCall{Update increment} of a few counters, fresh key
  kInsert100,       // Insert of 100 rows with fresh ids
  kEmpty,           // Insert the server refuses before any I/O: gRPC alone
  kTransaction2,    // keyed transaction: Insert of one row + a counter
                    // increment, fresh key
  kUpdate,          // Update increment of one of a few counters, no key
};
absl::optional<Mix> ParseMix(absl::string_view name);
const char* MixName(Mix mix);

struct WorkloadOptions {
  Mix mix = Mix::kInsert;
  std::string table = "bench_rows";  // (id bigint primary key, payload text)
  std::string counter_table = "bench_counters";  // (id bigint pk, n bigint)
  int counters = 8;        // counter rows 1..counters exist
  int replay_keys = 1000;  // keys made before a replay run
  std::string payload = "bench";
};

// How the load generator counts one finished call.
struct CallResult {
  bool ok = false;
  absl::Status status;  // the client's final status
  int attempts = 0;
};

// Makes the requests of one mix and starts them on the client's async API.
// Start() is thread-safe: completions call it again from gRPC threads.
class Workload {
 public:
  // `clients`: at least one; caller i calls through clients[i % size], so
  // that several Clients (each on its own channel) stand for independent
  // services.
  Workload(std::vector<Client> clients, WorkloadOptions options,
           CallOptions call_options);

  // Blocking set-up before measuring: makes the replay keys.
  absl::Status Prepare();
  // Starts one call of caller `caller`; `done` runs once, on a gRPC thread.
  void Start(int caller, std::function<void(CallResult)> done);

 private:
  uint64_t NextRandom();  // distinct per call: a bijective mix of a counter
  v1::InsertRequest RowsRequest(int rows);
  v1::UpdateRequest IncrementRequest();
  std::string NextKey();

  std::vector<Client> clients_;
  WorkloadOptions options_;
  CallOptions call_options_;
  std::string run_tag_;
  uint64_t seed_;
  std::atomic<uint64_t> counter_{0};
  std::vector<v1::KeyedCallRequest> replays_;
};

}  // namespace idem::bench

#endif  // IDEM_BENCH_LOADGEN_WORKLOAD_H_
