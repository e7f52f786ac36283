// The client rides through a restart of its server: a killed pod that comes
// back, a rolling update of a single replica. Its retries wait for the
// channel to connect again (within their deadlines) instead of failing while
// gRPC waits to reconnect.
#include <gtest/gtest.h>
#include <signal.h>

#include <memory>
#include <pqxx/pqxx>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "idem/client.h"
#include "idem/rows.h"
#include "tests/support/server_process.h"
#include "tests/support/test_database.h"

namespace idem {
namespace {

using testing::ServerProcess;
using testing::TestDatabase;

class ClientRestartTest : public ::testing::Test {
 protected:
  void SetUp() override {
    table_ = TestDatabase::UniqueName("restart_rows");
    db_.Exec("CREATE TABLE " + table_ + " (id bigint PRIMARY KEY)");
    counters_ = table_ + "_n";
    db_.Exec("CREATE TABLE " + counters_ +
             " (id bigint PRIMARY KEY, n bigint)");
    server_ = StartServer("127.0.0.1:0");
    address_ = server_->address();
  }

  std::unique_ptr<ServerProcess> StartServer(const std::string& listen) {
    ServerProcess::Options options;
    options.env = {{"IDEM_TABLES", table_ + "," + counters_},
                   {"IDEM_LISTEN", listen}};
    return ServerProcess::Start(options);
  }

  v1::InsertRequest Row(int64_t id) const {
    v1::InsertRequest request;
    request.set_table(table_);
    *request.add_rows() = MakeRow({{"id", id}});
    return request;
  }

  int64_t Rows() {
    return std::stoll(db_.Scalar("SELECT count(*) FROM " + table_));
  }

  TestDatabase db_;
  std::string table_;
  std::string counters_;
  std::string address_;
  std::unique_ptr<ServerProcess> server_;
};

// With the client's default policy, a call made while its server is down
// succeeds once the server is back (here after about two seconds), and its
// row is written once.
TEST_F(ClientRestartTest, ACallRidesThroughARestartOfItsServer) {
  ClientOptions options;
  options.target = address_;
  const Client client = *Client::Create(options);
  ASSERT_TRUE(client.Insert(Row(1)).ok());  // connected

  server_->Signal(SIGKILL);
  server_->Wait();
  std::thread restart([this] {
    absl::SleepFor(absl::Seconds(2));
    server_ = StartServer(address_);
  });
  CallInfo info;
  const absl::StatusOr<v1::InsertResponse> result =
      client.Insert(Row(2), {}, &info);
  restart.join();

  EXPECT_TRUE(result.ok()) << result.status() << " after " << info.attempts
                           << " attempts, stopped by "
                           << StopReasonName(info.stop_reason);
  EXPECT_GE(info.attempts, 2);
  EXPECT_EQ(Rows(), 2);
}

// The same for many calls of one Client in flight at once, in Batch RPCs
// (eight of eight calls each, so that they leave one after the other while
// the server is down): each is written once, and none is refused for the
// retry budget: attempts that found no connection reached no server.
TEST_F(ClientRestartTest, ConcurrentCallsInBatchesRideThroughARestart) {
  ClientOptions options;
  options.target = address_;
  options.batching.max_calls = 8;
  const Client client = *Client::Create(options);
  ASSERT_TRUE(client.Insert(Row(0)).ok());

  server_->Signal(SIGKILL);
  server_->Wait();
  std::thread restart([this] {
    absl::SleepFor(absl::Seconds(2));
    server_ = StartServer(address_);
  });
  constexpr int kCalls = 64;
  absl::Mutex mu;
  std::vector<std::string> failures;
  int done = 0;
  for (int i = 1; i <= kCalls; ++i) {
    client.InsertAsync(Row(i), [&](absl::StatusOr<v1::InsertResponse> result,
                                   CallInfo info) {
      absl::MutexLock lock(&mu);
      if (!result.ok()) {
        failures.push_back(absl::StrCat(result.status().ToString(), " (",
                                        StopReasonName(info.stop_reason), ")"));
      }
      ++done;
    });
  }
  {
    absl::MutexLock lock(&mu);
    mu.Await(absl::Condition(
        +[](int* done) { return *done == kCalls; }, &done));
  }
  restart.join();

  EXPECT_TRUE(failures.empty())
      << failures.size() << " failed, e.g. " << failures.front();
  EXPECT_EQ(Rows(), kCalls + 1);
}

// Six calls in flight (waiting on a row lock) when their server is killed:
// the drop is one failure for the retry budget, one token, however soon
// gRPC marks the channel unconnected; the retries that then find no
// connection take none. The old client read the channel's state after the
// failure, found it no longer connected and took no token, so a server that
// kept accepting connections and crashing never spent the budget.
TEST_F(ClientRestartTest, AServerKilledUnderItsCallsTakesOneToken) {
  db_.Exec("INSERT INTO " + counters_ + " VALUES (1, 0)");
  ClientOptions options;
  options.target = address_;
  options.retry =
      RetryPolicy{/*max_attempts=*/2, absl::Seconds(5), absl::Seconds(1)};
  options.batching.max_calls = 1;  // six RPCs, one connection
  const Client client = *Client::Create(options);
  ASSERT_TRUE(client.Insert(Row(1)).ok());  // connected
  ASSERT_EQ(client.retry_budget_tokens(), 10);

  pqxx::connection holder(testing::DatabaseUrl());
  pqxx::work lock(holder);
  lock.exec("SELECT 1 FROM " + table_ + "_n WHERE id = 1 FOR UPDATE");
  constexpr int kCalls = 6;
  absl::Mutex mu;
  int done = 0;
  for (int i = 0; i < kCalls; ++i) {
    v1::UpdateRequest increment;
    increment.set_table(counters_);
    *increment.mutable_key() = MakeRow({{"id", 1}});
    *increment.mutable_increment() = MakeRow({{"n", 1}});
    client.UpdateAsync(increment,
                       [&](absl::StatusOr<v1::UpdateResponse>, CallInfo) {
                         absl::MutexLock hold(&mu);
                         ++done;
                       });
  }
  // Group commit runs the six together, in one to three transactions.
  for (int i = 0; i < 400 && db_.LockWaiters(counters_) == 0; ++i) {
    absl::SleepFor(absl::Milliseconds(25));
  }
  ASSERT_GE(db_.LockWaiters(counters_), 1);
  absl::SleepFor(absl::Milliseconds(500));  // all six have arrived
  server_->Signal(SIGKILL);
  server_->Wait();
  {
    absl::MutexLock hold(&mu);
    mu.Await(absl::Condition(
        +[](int* done) { return *done == kCalls; }, &done));
  }
  lock.abort();
  // One token for the drop (the old client took none). A retry that full
  // jitter sends at once may still find the channel marked connected, and
  // its failure then counts as its own: at most one more, never one per
  // call (4 left).
  EXPECT_LE(client.retry_budget_tokens(), 9);
  EXPECT_GE(client.retry_budget_tokens(), 8);
}

// A server that does not come back: the call ends at its deadline as
// UNAVAILABLE (nothing reached a server), not DEADLINE_EXCEEDED, which
// would say a server was slow and the write may have run.
TEST_F(ClientRestartTest, AServerThatStaysDownIsUnavailableAtTheDeadline) {
  ClientOptions options;
  options.target = address_;
  options.retry =
      RetryPolicy{/*max_attempts=*/5, absl::Seconds(3), absl::Seconds(1)};
  const Client client = *Client::Create(options);
  ASSERT_TRUE(client.Insert(Row(1)).ok());

  server_->Signal(SIGKILL);
  server_->Wait();
  CallInfo info;
  const absl::Time start = absl::Now();
  const absl::StatusOr<v1::InsertResponse> result =
      client.Insert(Row(2), {}, &info);

  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnavailable)
      << result.status();
  EXPECT_GE(info.attempts, 2);
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  EXPECT_EQ(Rows(), 1);

  // The retries that waited for a connection say only that none came; the
  // first attempt's failure says why, and is kept. A client that never
  // connected (to a port nothing listens on, which no channel of this
  // process has tried, so no connection backoff is shared): its first
  // attempt's refusal is the cause, as a TLS mistake or a wrong name would
  // be.
  options.target = "127.0.0.1:1";
  const absl::StatusOr<v1::InsertResponse> fresh =
      Client::Create(options)->Insert(Row(3));
  EXPECT_EQ(fresh.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(
      absl::StrContains(fresh.status().message(), "the first attempt: "))
      << fresh.status();
  EXPECT_TRUE(absl::StrContains(fresh.status().message(), "Connection refused"))
      << fresh.status();
}

}  // namespace
}  // namespace idem
