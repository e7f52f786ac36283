#ifndef IDEM_TESTS_INTEGRATION_KEYED_KEYED_FIXTURE_H_
#define IDEM_TESTS_INTEGRATION_KEYED_KEYED_FIXTURE_H_

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "idem/v1/idem.grpc.pb.h"
#include "tests/support/polling.h"
#include "tests/support/server_process.h"
#include "tests/support/test_database.h"
#include "tests/support/values.h"

// Helpers shared by the KeyedCall integration suites: request
// builders, one call with its trailing metadata, polling, and a fixture that
// runs one idem-server per suite over a counters table and an items table.
namespace idem::testing::keyed {

using namespace std::chrono_literals;

using testing::Columns;
using testing::Int;
using testing::RowOf;
using testing::Str;

// Update `table` row `id`: n = n + delta.
v1::KeyedCallRequest Increment(const std::string& key, const std::string& table,
                               int64_t id, int64_t delta = 1);
// Insert one row into `table` (DO_NOTHING on conflict).
v1::KeyedCallRequest InsertRow(const std::string& key, const std::string& table,
                               const Columns& row);
v1::KeyedCallRequest Copy(const std::string& key, const std::string& source,
                          const std::string& destination);

// One KeyedCall's answer as a caller sees it.
struct Answer {
  grpc::Status status;
  v1::KeyedCallResponse response;
  std::multimap<std::string, std::string> trailers;

  // Trailing metadata "idempotent-replayed: true".
  bool marked_replayed() const;
  // Trailing metadata "grpc-retry-pushback-ms", if any.
  std::optional<int64_t> pushback_ms() const;
  bool ok() const { return status.ok(); }
};

// Bearer token for an authenticated server; empty: none.
Answer Call(v1::IdemService::Stub& stub, const v1::KeyedCallRequest& request,
            const std::string& token = "");

// Calls until the answer is neither ABORTED nor UNAVAILABLE, waiting the
// server's pushback (or 50 ms) between attempts, as a client library does;
// at most 60 s. `attempts` counts the calls made.
Answer CallUntilSettled(v1::IdemService::Stub& stub,
                        const v1::KeyedCallRequest& request,
                        const std::string& token = "", int* attempts = nullptr);

// Polls `condition` every 20 ms until it holds or `timeout` passes.
using testing::Eventually;

// `text` as a SQL string literal.
std::string Quote(const std::string& text);

// ABORTED (retryable) with a positive grpc-retry-pushback-ms.
void ExpectAbortedWithPushback(const Answer& answer);
// A first execution: OK, not replayed, no marker.
void ExpectExecuted(const Answer& answer);
// A replay of `first`: byte-identical to it apart from `replayed`, marked.
void ExpectReplayOf(const Answer& replay, const Answer& first);

// Settings of a server that allow-lists `tables`, on top of `env`.
std::map<std::string, std::string> ServerEnv(
    const std::vector<std::string>& tables,
    std::map<std::string, std::string> env = {});

// One idem-server per suite over two fresh tables:
//   counters: id bigint primary key, n bigint not null default 0
//   items:    id bigint primary key, name text, qty integer
//   absent:   allow-listed, not created
// Suites with settings override SetUpTestSuite and call StartServer.
class KeyedCallTest : public ::testing::Test {
 public:
  static void SetUpTestSuite() { StartServer({}); }
  static void TearDownTestSuite();

 protected:
  static void StartServer(std::map<std::string, std::string> env);
  // Another server process with the suite's tables and `env`.
  static std::unique_ptr<ServerProcess> StartAnotherServer(
      std::map<std::string, std::string> env = {});

  static TestDatabase& db() { return *db_; }
  static ServerProcess& server() { return *server_; }
  static v1::IdemService::Stub& stub() { return *stub_; }
  static const std::string& counters() { return counters_; }
  static const std::string& items() { return items_; }
  static const std::string& absent() { return absent_; }
  static const std::vector<std::string>& tables() { return tables_; }

  // A key no other test uses.
  static std::string NewKey(const std::string& prefix = "key");
  static absl::Time TimeOf(const google::protobuf::Timestamp& time) {
    return absl::FromUnixSeconds(time.seconds()) +
           absl::Nanoseconds(time.nanos());
  }
  // A new counters row at 0; its id.
  static int64_t NewCounter();
  static int64_t Counter(int64_t id);
  static int64_t ItemCount(int64_t id);
  // Rows in idem.idempotency_keys for `key` (expired or not).
  static int64_t KeyRows(const std::string& key,
                         const std::string& tenant = "default");
  // The key's state: "" (absent), "1" in progress, "2" done.
  static std::string KeyState(const std::string& key,
                              const std::string& tenant = "default");

 private:
  static std::unique_ptr<TestDatabase> db_;
  static std::unique_ptr<ServerProcess> server_;
  static std::unique_ptr<v1::IdemService::Stub> stub_;
  static std::string counters_;
  static std::string items_;
  static std::string absent_;
  static std::vector<std::string> tables_;
  static std::map<std::string, std::string> env_;
};

}  // namespace idem::testing::keyed

#endif  // IDEM_TESTS_INTEGRATION_KEYED_KEYED_FIXTURE_H_
