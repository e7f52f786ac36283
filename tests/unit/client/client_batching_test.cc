// How the Client gathers concurrent calls into Batch RPCs (BatchingOptions),
// over a real gRPC channel against a scripted in-process peer: which calls
// travel together, and that each keeps its own outcome and retries.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "fake_environment.h"
#include "idem/client.h"
#include "scripted_server.h"

namespace idem {
namespace {

using ::testing::ElementsAre;
using testing::Fail;
using testing::FailBecause;
using testing::FakeEnvironment;
using testing::ReceivedCall;
using testing::ScriptedReply;
using testing::ScriptedServer;

// An answer that waits until `hold` is notified.
ScriptedReply HeldUntil(std::shared_ptr<absl::Notification> hold) {
  ScriptedReply reply;
  reply.hold = std::move(hold);
  return reply;
}

// An async call's outcome, once it is over.
template <typename Response>
struct Outcome {
  std::promise<std::pair<absl::StatusOr<Response>, CallInfo>> promise;
  Callback<Response> callback() {
    return [this](absl::StatusOr<Response> result, CallInfo info) {
      promise.set_value({std::move(result), std::move(info)});
    };
  }
  std::pair<absl::StatusOr<Response>, CallInfo> Get() {
    return promise.get_future().get();
  }
};

class ClientBatchingTest : public ::testing::Test {
 protected:
  ClientBatchingTest() : hold_(std::make_shared<absl::Notification>()) {
    options_.target = server_.target();
    options_.retry =
        RetryPolicy{/*max_attempts=*/5, absl::Seconds(30), absl::Seconds(5)};
    options_.environment = env_.environment();
    // One RPC out at a time; waiting calls leave only when it is over.
    options_.batching.max_in_flight = 1;
    options_.batching.max_wait = absl::Hours(1);
  }
  ~ClientBatchingTest() override {
    if (!hold_->HasBeenNotified()) hold_->Notify();
  }

  std::vector<std::string> Methods() const {
    std::vector<std::string> methods;
    for (const ReceivedCall& call : server_.received()) {
      methods.push_back(call.method);
    }
    return methods;
  }
  // Waits until the server has taken `count` calls (and their replies),
  // so that calls sent next cannot overtake them.
  void AwaitReceived(size_t count) const {
    while (server_.received().size() < count)
      absl::SleepFor(absl::Milliseconds(1));
  }
  std::vector<std::string> Attempts() const {
    std::vector<std::string> attempts;
    for (const ReceivedCall& call : server_.received()) {
      attempts.push_back(call.attempt);
    }
    return attempts;
  }

  // A Client whose first call, an insert, the server holds until hold_ is
  // notified: the calls made next find an RPC in flight.
  Client ClientWithACallHeld(Outcome<v1::InsertResponse>& held) {
    server_.Script({HeldUntil(hold_)});
    Client client = *Client::Create(options_);
    client.InsertAsync(Rows(1), held.callback());
    AwaitReceived(1);
    return client;
  }

  static v1::InsertRequest Rows(int id) {
    v1::InsertRequest request;
    request.set_table("t");
    *request.add_rows() = MakeRow({{"id", id}});
    return request;
  }

  ScriptedServer server_;
  FakeEnvironment env_;
  ClientOptions options_;
  // Holds the first call's answer, so that the calls after it wait.
  std::shared_ptr<absl::Notification> hold_;
};

TEST_F(ClientBatchingTest,
       CallsMadeWhileBusyLeaveTogetherWithTheirOwnOutcomes) {
  server_.Script({HeldUntil(hold_),                          // first, alone
                  ScriptedReply{},                           // batch: OK
                  Fail(grpc::StatusCode::INVALID_ARGUMENT),  // refused
                  Fail(grpc::StatusCode::UNAVAILABLE),       // retried
                  ScriptedReply{grpc::StatusCode::OK,        // replayed
                                "",
                                {{"idempotent-replayed", "true"}},
                                absl::ZeroDuration()},
                  ScriptedReply{}});  // the retry, alone
  const Client client = *Client::Create(options_);
  Outcome<v1::InsertResponse> first, ok, refused, retried;
  Outcome<v1::KeyedCallResponse> replayed;
  client.InsertAsync(Rows(1), first.callback());
  client.InsertAsync(Rows(2), ok.callback());
  client.InsertAsync(Rows(3), refused.callback());
  client.InsertAsync(Rows(4), retried.callback());
  client.KeyedCallAsync(ExactlyOnce(Rows(5), "key-5"), replayed.callback());
  hold_->Notify();

  EXPECT_TRUE(first.Get().first.ok());
  EXPECT_TRUE(ok.Get().first.ok());
  auto [refused_status, refused_info] = refused.Get();
  EXPECT_EQ(refused_status.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(refused_status.status().message(), "scripted failure");
  EXPECT_EQ(refused_info.attempts, 1);
  auto [retried_status, retried_info] = retried.Get();
  EXPECT_TRUE(retried_status.ok());
  EXPECT_EQ(retried_info.attempts, 2);
  auto [replayed_status, replayed_info] = replayed.Get();
  ASSERT_TRUE(replayed_status.ok());
  EXPECT_TRUE(replayed_status->replayed());
  EXPECT_TRUE(replayed_info.replayed);
  EXPECT_EQ(replayed_info.idempotency_key, "key-5");

  // Inserts travel under auto-keys, as KeyedCalls.
  EXPECT_THAT(Methods(),
              ElementsAre("KeyedCall", "Batch/KeyedCall", "Batch/KeyedCall",
                          "Batch/KeyedCall", "Batch/KeyedCall", "KeyedCall"));
  EXPECT_THAT(Attempts(), ElementsAre("1", "1", "1", "1", "1", "2"));
  EXPECT_EQ(server_.received()[4].idempotency_key, "key-5");
  EXPECT_EQ(server_.received()[5].idempotency_key,
            retried_info.idempotency_key);
}

TEST_F(ClientBatchingTest, AFailedBatchRetriesEachOfItsCalls) {
  CallOptions short_attempts;
  short_attempts.retry = options_.retry;
  short_attempts.retry->per_attempt_timeout = absl::Milliseconds(200);
  ScriptedReply slow;
  slow.delay = absl::Seconds(2);  // past the batch's deadline
  server_.Script({HeldUntil(hold_), slow, ScriptedReply{}});
  const Client client = *Client::Create(options_);
  Outcome<v1::InsertResponse> first, second, third;
  client.InsertAsync(Rows(1), first.callback());
  client.InsertAsync(Rows(2), second.callback(), short_attempts);
  client.InsertAsync(Rows(3), third.callback(), short_attempts);
  hold_->Notify();

  EXPECT_TRUE(first.Get().first.ok());
  for (Outcome<v1::InsertResponse>* outcome : {&second, &third}) {
    auto [result, info] = outcome->Get();
    EXPECT_TRUE(result.ok()) << result.status();
    EXPECT_EQ(info.attempts, 2);
  }
  EXPECT_THAT(Methods(),
              ElementsAre("KeyedCall", "Batch/KeyedCall", "Batch/KeyedCall",
                          "Batch/KeyedCall", "Batch/KeyedCall"));
}

// A batch ends at its most urgent call's deadline. A call with far more
// time must not be cut off by a neighbour's short one: with retries off
// it would fail DEADLINE_EXCEEDED long before its own deadline.
TEST_F(ClientBatchingTest, ACallIsNotBatchedWithOneOfAFarShorterDeadline) {
  options_.retry.max_attempts = 1;  // plain Inserts, no auto-keys
  CallOptions patient, hasty;
  patient.retry =
      RetryPolicy{/*max_attempts=*/1, absl::Seconds(30), absl::Seconds(30)};
  hasty.retry = RetryPolicy{/*max_attempts=*/1, absl::Milliseconds(200),
                            absl::Milliseconds(200)};
  ScriptedReply slow;
  slow.delay = absl::Milliseconds(600);  // past the hasty call's deadline
  server_.Script({HeldUntil(hold_), slow, ScriptedReply{}, ScriptedReply{},
                  ScriptedReply{}});
  const Client client = *Client::Create(options_);
  Outcome<v1::InsertResponse> first, slow_one, hasty_one, patient_too;
  client.InsertAsync(Rows(1), first.callback());
  AwaitReceived(1);
  client.InsertAsync(Rows(2), slow_one.callback(), patient);
  client.InsertAsync(Rows(3), hasty_one.callback(), hasty);
  client.InsertAsync(Rows(4), patient_too.callback(), patient);
  hold_->Notify();

  EXPECT_TRUE(first.Get().first.ok());
  auto [slow_result, slow_info] = slow_one.Get();
  EXPECT_TRUE(slow_result.ok()) << slow_result.status();
  EXPECT_EQ(slow_info.attempts, 1);
  EXPECT_TRUE(hasty_one.Get().first.ok());
  EXPECT_TRUE(patient_too.Get().first.ok());
  // The two patient calls travel together; the hasty one on its own.
  EXPECT_THAT(Methods(),
              ElementsAre("Insert", "Batch/Insert", "Batch/Insert", "Insert"));
}

TEST_F(ClientBatchingTest, WithoutBatchOnTheServerEachCallIsSentAgainAlone) {
  server_.RefuseBatches();
  server_.Script({HeldUntil(hold_)});
  const Client client = *Client::Create(options_);
  Outcome<v1::InsertResponse> first, second, third;
  client.InsertAsync(Rows(1), first.callback());
  client.InsertAsync(Rows(2), second.callback());
  client.InsertAsync(Rows(3), third.callback());
  hold_->Notify();

  EXPECT_TRUE(first.Get().first.ok());
  for (Outcome<v1::InsertResponse>* outcome : {&second, &third}) {
    auto [result, info] = outcome->Get();
    EXPECT_TRUE(result.ok()) << result.status();
    EXPECT_EQ(info.attempts, 1);  // the refused batch was no attempt
  }
  EXPECT_THAT(Methods(), ElementsAre("KeyedCall", "KeyedCall", "KeyedCall"));
}

TEST_F(ClientBatchingTest, AWaitingCallLeavesAfterMaxWait) {
  options_.batching.max_wait = absl::Milliseconds(20);
  Outcome<v1::InsertResponse> held, waiting;
  const Client client = ClientWithACallHeld(held);
  client.InsertAsync(Rows(2), waiting.callback());
  // Answered while the first call is still held: it did not wait for it.
  EXPECT_TRUE(waiting.Get().first.ok());
  hold_->Notify();
  EXPECT_TRUE(held.Get().first.ok());
  EXPECT_THAT(Methods(), ElementsAre("KeyedCall", "KeyedCall"));
}

TEST_F(ClientBatchingTest, CallsBatchDoesNotTakeOrThatMayBeSlowGoAlone) {
  options_.auto_keys = false;
  Outcome<v1::InsertResponse> held;
  const Client client = ClientWithACallHeld(held);
  v1::UpdateRequest update;
  update.set_table("t");
  v1::CopyFileRequest copy;
  copy.set_source_path("a");
  copy.set_destination_path("b");
  // Each goes out at once although an RPC is in flight.
  EXPECT_TRUE(client.Update(update).ok());
  EXPECT_TRUE(client.CopyFile(copy).ok());
  EXPECT_TRUE(client.KeyedCall(ExactlyOnce(copy, "copy-key")).ok());
  EXPECT_TRUE(client.Transaction(Transaction().Update(update), "tx-key").ok());
  EXPECT_TRUE(client.GetKey("tx-key").ok());
  hold_->Notify();
  EXPECT_TRUE(held.Get().first.ok());
  EXPECT_THAT(Methods(), ElementsAre("Insert", "Update", "CopyFile",
                                     "KeyedCall", "KeyedCall", "GetKey"));
}

TEST_F(ClientBatchingTest, AutoKeyedUpdatesTravelTogetherLikeKeyedOnes) {
  Outcome<v1::InsertResponse> held;
  const Client client = ClientWithACallHeld(held);
  v1::UpdateRequest update;
  update.set_table("t");
  Outcome<v1::UpdateResponse> first, second;
  client.UpdateAsync(update, first.callback());
  client.UpdateAsync(update, second.callback());
  hold_->Notify();
  EXPECT_TRUE(held.Get().first.ok());
  EXPECT_TRUE(first.Get().first.ok());
  EXPECT_TRUE(second.Get().first.ok());
  EXPECT_THAT(Methods(),
              ElementsAre("KeyedCall", "Batch/KeyedCall", "Batch/KeyedCall"));
  EXPECT_EQ(server_.received()[1].wrapped, "update");
}

TEST_F(ClientBatchingTest, ABatchedCallGetsItsReasonAndRetryDelay) {
  server_.Script(
      {HeldUntil(hold_),
       FailBecause(grpc::StatusCode::ABORTED, "ROW_LOCKED",
                   absl::Milliseconds(300)),
       FailBecause(grpc::StatusCode::INVALID_ARGUMENT, "COLUMN_UNKNOWN",
                   std::nullopt, {{"column", "colour"}}),
       ScriptedReply{}});
  const Client client = *Client::Create(options_);
  Outcome<v1::InsertResponse> held, locked, refused;
  client.InsertAsync(Rows(1), held.callback());
  client.InsertAsync(Rows(2), locked.callback());
  client.InsertAsync(Rows(3), refused.callback());
  hold_->Notify();

  EXPECT_TRUE(held.Get().first.ok());
  auto [locked_result, locked_info] = locked.Get();
  EXPECT_TRUE(locked_result.ok()) << locked_result.status();
  EXPECT_EQ(locked_info.attempts, 2);
  EXPECT_THAT(env_.sleeps(), ElementsAre(absl::Milliseconds(300)));
  auto [refused_result, refused_info] = refused.Get();
  EXPECT_EQ(ErrorReason(refused_result.status()), reasons::kColumnUnknown);
  EXPECT_EQ(ErrorMetadata(refused_result.status())["column"], "colour");
  EXPECT_THAT(Methods(), ElementsAre("KeyedCall", "Batch/KeyedCall",
                                     "Batch/KeyedCall", "KeyedCall"));
}

TEST_F(ClientBatchingTest, ABatchCarriesItsFirstCallsMetadata) {
  std::atomic<int> calls{0};
  options_.call_metadata = [&calls] {
    return CallMetadata{{"traceparent", absl::StrCat("trace-", ++calls)}};
  };
  server_.Script({HeldUntil(hold_)});
  const Client client = *Client::Create(options_);
  Outcome<v1::InsertResponse> held, first, second;
  client.InsertAsync(Rows(1), held.callback());
  client.InsertAsync(Rows(2), first.callback());
  client.InsertAsync(Rows(3), second.callback());
  hold_->Notify();
  for (auto* outcome : {&held, &first, &second}) {
    EXPECT_TRUE(outcome->Get().first.ok());
  }
  std::vector<std::string> traceparents;
  for (const ReceivedCall& call : server_.received()) {
    traceparents.push_back(call.metadata.find("traceparent")->second);
  }
  EXPECT_THAT(traceparents, ElementsAre("trace-1", "trace-2", "trace-2"));
  EXPECT_THAT(Methods(),
              ElementsAre("KeyedCall", "Batch/KeyedCall", "Batch/KeyedCall"));
}

TEST_F(ClientBatchingTest, WithBatchingOffEveryCallGoesAlone) {
  options_.batching.enabled = false;
  Outcome<v1::InsertResponse> held;
  const Client client = ClientWithACallHeld(held);
  EXPECT_TRUE(client.Insert(Rows(2)).ok());
  EXPECT_TRUE(client.KeyedCall(ExactlyOnce(Rows(3), "k")).ok());
  hold_->Notify();
  EXPECT_TRUE(held.Get().first.ok());
  EXPECT_THAT(Methods(), ElementsAre("KeyedCall", "KeyedCall", "KeyedCall"));
}

}  // namespace
}  // namespace idem
