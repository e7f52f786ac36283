// The client against a real idem-server and PostgreSQL, through a proxy that
// cuts connections mid-call.
#include <grpcpp/create_channel.h>
#include <grpcpp/support/channel_arguments.h>
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "idem/client.h"
#include "tests/support/fault_proxy.h"
#include "tests/support/polling.h"
#include "tests/support/server_process.h"
#include "tests/support/test_database.h"

namespace idem {
namespace {

using testing::FaultProxy;
using testing::ServerProcess;
using testing::TestDatabase;

class ClientFaultsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    table_ = TestDatabase::UniqueName("client_counter");
    db_.Exec("CREATE TABLE " + table_ +
             " (id bigint PRIMARY KEY, n bigint NOT NULL, note text)");
    db_.Exec("INSERT INTO " + table_ + " VALUES (1, 0, '')");
    ServerProcess::Options options;
    options.env["IDEM_TABLES"] = table_;
    server_ = ServerProcess::Start(options);
    absl::StatusOr<std::unique_ptr<FaultProxy>> proxy =
        FaultProxy::Start(server_->address());
    ASSERT_TRUE(proxy.ok()) << proxy.status();
    proxy_ = *std::move(proxy);
  }

  // A client through the proxy that reconnects quickly after a cut.
  Client ProxiedClient(ClientOptions options) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 20);
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 20);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 200);
    return Client::FromChannel(
        grpc::CreateCustomChannel(proxy_->address(),
                                  grpc::InsecureChannelCredentials(), args),
        std::move(options));
  }

  v1::UpdateRequest Increment() const {
    v1::UpdateRequest request;
    request.set_table(table_);
    *request.mutable_key() = MakeRow({{"id", 1}});
    *request.mutable_increment() = MakeRow({{"n", 1}});
    return request;
  }

  // A client with many quick retries, connected, then the proxy resetting
  // and dropping 2% of what it forwards.
  Client ClientUnderFaults(uint64_t seed) {
    ClientOptions options;
    options.retry =
        RetryPolicy{/*max_attempts=*/30, absl::Seconds(60), absl::Seconds(5)};
    options.backoff =
        BackoffPolicy{absl::Milliseconds(2), absl::Milliseconds(100), 2.0};
    // About exactly-once under many retries, not throttling.
    options.retry_budget = {/*max_tokens=*/1e9, /*token_ratio=*/1};
    Client client = ProxiedClient(options);
    EXPECT_NE(client.Insert(v1::InsertRequest()).status().code(),
              absl::StatusCode::kUnavailable);  // connected before faults
    FaultProxy::Faults faults;
    faults.reset_probability = 0.02;
    faults.drop_probability = 0.02;
    faults.seed = seed;
    proxy_->SetFaults(faults);
    return client;
  }

  int64_t Counter() {
    return std::stoll(db_.Scalar("SELECT n FROM " + table_ + " WHERE id = 1"));
  }

  TestDatabase db_;
  std::string table_;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<FaultProxy> proxy_;
};

TEST_F(ClientFaultsTest, AThousandKeyedIncrementsLandExactlyOnce) {
  const Client client = ClientUnderFaults(/*seed=*/20240611);

  constexpr int kCalls = 1000;
  int attempts = 0, replayed = 0;
  for (int i = 0; i < kCalls; ++i) {
    CallInfo info;
    absl::StatusOr<v1::KeyedCallResponse> result =
        client.KeyedCall(ExactlyOnce(Increment()), {}, &info);
    ASSERT_TRUE(result.ok()) << "call " << i << ": " << result.status()
                             << " after " << info.attempts << " attempts";
    attempts += info.attempts;
    replayed += info.replayed;
  }
  proxy_->SetFaults({});
  EXPECT_EQ(Counter(), kCalls);
  EXPECT_GT(proxy_->connections_cut(), 0);
  EXPECT_GT(attempts, kCalls);  // the faults did bite
  std::cout << "attempts " << attempts << ", replays " << replayed
            << ", connections cut " << proxy_->connections_cut() << "\n";
}

// The same through the async API with 64 calls in flight, so that calls
// travel in Batch RPCs (BatchingOptions): a cut batch is retried call by
// call, and each increment still lands once.
TEST_F(ClientFaultsTest, ConcurrentKeyedIncrementsInBatchesLandExactlyOnce) {
  const Client client = ClientUnderFaults(/*seed=*/20261127);

  constexpr int kCalls = 2000;
  constexpr int kInFlight = 64;
  absl::Mutex mu;
  int started = 0, finished = 0, attempts = 0;
  std::vector<std::string> failures;
  std::function<void()> start_next = [&] {
    {
      absl::MutexLock lock(&mu);
      if (started == kCalls) return;
      ++started;
    }
    client.KeyedCallAsync(
        ExactlyOnce(Increment()),
        [&](absl::StatusOr<v1::KeyedCallResponse> result, CallInfo info) {
          {
            absl::MutexLock lock(&mu);
            ++finished;
            attempts += info.attempts;
            if (!result.ok()) failures.push_back(result.status().ToString());
          }
          start_next();
        });
  };
  for (int i = 0; i < kInFlight; ++i) start_next();
  {
    absl::MutexLock lock(&mu);
    mu.Await(absl::Condition(
        +[](int* n) { return *n == kCalls; }, &finished));
  }
  proxy_->SetFaults({});
  EXPECT_TRUE(failures.empty())
      << failures.size() << " failed, first: " << failures.front();
  EXPECT_EQ(Counter(), kCalls);
  EXPECT_GT(proxy_->connections_cut(), 0);
  EXPECT_GT(attempts, kCalls);  // the faults did bite
  std::cout << "attempts " << attempts << ", connections cut "
            << proxy_->connections_cut() << "\n";
}

TEST_F(ClientFaultsTest, APlainIncrementIsNotRetriedAfterAReset) {
  const Client client = ProxiedClient({});
  v1::UpdateRequest set_note;
  set_note.set_table(table_);
  *set_note.mutable_key() = MakeRow({{"id", 1}});
  *set_note.mutable_set() = MakeRow({{"note", "warm"}});
  ASSERT_TRUE(client.Update(set_note).ok());  // connection up before the fault

  FaultProxy::Faults faults;
  faults.response_delay = absl::Seconds(5);  // answers are held back...
  proxy_->SetFaults(faults);
  CallInfo info;
  absl::StatusOr<v1::UpdateResponse> result;
  std::thread caller([&] { result = client.Update(Increment(), {}, &info); });
  // ...while the server has run it: wait until the increment committed.
  ASSERT_TRUE(testing::Eventually([&] { return Counter() == 1; }));
  proxy_->ResetAll();
  caller.join();
  proxy_->SetFaults({});

  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(info.attempts, 1);
  EXPECT_EQ(info.stop_reason, StopReason::kNotIdempotent);
  EXPECT_EQ(Counter(), 1);  // ran once, and was not sent again
}

}  // namespace
}  // namespace idem
