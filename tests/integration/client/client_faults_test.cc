// The client against a real idem-server and PostgreSQL, through a proxy that
// cuts connections mid-call.
#include <grpcpp/create_channel.h>
#include <grpcpp/support/channel_arguments.h>
#include <gtest/gtest.h>

#include <functional>
#include <memory>
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

  // A client through the proxy that reconnects quickly after a cut,
  // connected before any fault.
  Client ProxiedClient(ClientOptions options) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 20);
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 20);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 200);
    Client client = Client::FromChannel(
        grpc::CreateCustomChannel(proxy_->address(),
                                  grpc::InsecureChannelCredentials(), args),
        std::move(options));
    EXPECT_NE(client.Insert(v1::InsertRequest()).status().code(),
              absl::StatusCode::kUnavailable);
    return client;
  }

  // Runs `call` on a thread while the proxy holds the server's answers
  // back; once `ran` says the server has committed it, runs `meanwhile` and
  // cuts the connection: the first attempt ran and its answer is lost.
  void LoseTheFirstAnswer(
      const std::function<void()>& call, const std::function<bool()>& ran,
      const std::function<void()>& meanwhile = [] {}) {
    FaultProxy::Faults faults;
    faults.response_delay = absl::Seconds(5);
    proxy_->SetFaults(faults);
    std::thread caller(call);
    EXPECT_TRUE(testing::Eventually(ran));
    meanwhile();
    proxy_->ResetAll();
    proxy_->SetFaults({});
    caller.join();
  }

  std::string Note() {
    return db_.Scalar("SELECT note FROM " + table_ + " WHERE id = 1");
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
  // Shared with the callbacks: the last one may still be returning when the
  // test has seen its count and ended.
  struct Calls {
    absl::Mutex mu;
    int started = 0, finished = 0, attempts = 0;
    std::vector<std::string> failures;
  };
  auto calls = std::make_shared<Calls>();
  // Sends one call; its callback sends the next while any is left (decided
  // under the lock, so that no callback touches the test's locals once the
  // last call has finished).
  std::function<void()> send = [&] {
    client.KeyedCallAsync(
        ExactlyOnce(Increment()),
        [&send, calls](absl::StatusOr<v1::KeyedCallResponse> result,
                       CallInfo info) {
          bool another = false;
          {
            absl::MutexLock lock(&calls->mu);
            ++calls->finished;
            calls->attempts += info.attempts;
            if (!result.ok())
              calls->failures.push_back(result.status().ToString());
            if (calls->started < kCalls) {
              ++calls->started;
              another = true;
            }
          }
          if (another) send();
        });
  };
  {
    absl::MutexLock lock(&calls->mu);
    calls->started = kInFlight;
  }
  for (int i = 0; i < kInFlight; ++i) send();
  {
    absl::MutexLock lock(&calls->mu);
    calls->mu.Await(absl::Condition(
        +[](int* n) { return *n == kCalls; }, &calls->finished));
  }
  // Every call has finished: no callback writes `calls` any more.
  proxy_->SetFaults({});
  EXPECT_TRUE(calls->failures.empty())
      << calls->failures.size()
      << " failed, first: " << calls->failures.front();
  EXPECT_EQ(Counter(), kCalls);
  EXPECT_GT(proxy_->connections_cut(), 0);
  EXPECT_GT(calls->attempts, kCalls);  // the faults did bite
  std::cout << "attempts " << calls->attempts << ", connections cut "
            << proxy_->connections_cut() << "\n";
}

TEST_F(ClientFaultsTest, AnInsertWhoseAnswerIsLostIsReplayedAsInserted) {
  const Client client = ProxiedClient({});
  v1::InsertRequest insert;
  insert.set_table(table_);
  *insert.add_rows() = MakeRow({{"id", 2}, {"n", 7}});
  CallInfo info;
  absl::StatusOr<v1::InsertResponse> result;
  LoseTheFirstAnswer([&] { result = client.Insert(insert, {}, &info); },
                     [&] {
                       return db_.Scalar("SELECT count(*) FROM " + table_ +
                                         " WHERE id = 2") == "1";
                     });

  // The retry, under the same auto-key, replays the first answer: the
  // caller's own row is INSERTED, not a DUPLICATE.
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->outcomes_size(), 1);
  EXPECT_EQ(result->outcomes(0), v1::ROW_OUTCOME_INSERTED);
  EXPECT_EQ(result->inserted(), 1);
  EXPECT_GE(info.attempts, 2);
  EXPECT_TRUE(info.replayed);
  EXPECT_FALSE(info.idempotency_key.empty());
}

TEST_F(ClientFaultsTest, ARetriedSetDoesNotOverwriteAnotherWritersChange) {
  const Client client = ProxiedClient({});
  v1::UpdateRequest set_note;
  set_note.set_table(table_);
  *set_note.mutable_key() = MakeRow({{"id", 1}});
  *set_note.mutable_set() = MakeRow({{"note", "mine"}});
  CallInfo info;
  absl::StatusOr<v1::UpdateResponse> result;
  LoseTheFirstAnswer(
      [&] { result = client.Update(set_note, {}, &info); },
      [&] { return Note() == "mine"; },
      // Another writer changes the row before the retry.
      [&] {
        db_.Exec("UPDATE " + table_ + " SET note = 'theirs' WHERE id = 1");
      });

  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->outcome(), v1::UPDATE_OUTCOME_UPDATED);
  EXPECT_GE(info.attempts, 2);
  EXPECT_TRUE(info.replayed);
  EXPECT_EQ(Note(), "theirs");
}

TEST_F(ClientFaultsTest, WithoutAutoKeysAPlainIncrementIsNotRetried) {
  ClientOptions options;
  options.auto_keys = false;
  const Client client = ProxiedClient(options);
  CallInfo info;
  absl::StatusOr<v1::UpdateResponse> result;
  LoseTheFirstAnswer([&] { result = client.Update(Increment(), {}, &info); },
                     [&] { return Counter() == 1; });

  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(info.attempts, 1);
  EXPECT_EQ(info.stop_reason, StopReason::kNotIdempotent);
  EXPECT_EQ(Counter(), 1);  // ran once, and was not sent again
}

}  // namespace
}  // namespace idem
