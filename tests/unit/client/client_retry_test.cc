// The Client's retry loop end to end over a real gRPC channel, against a
// scripted in-process peer, with a fake clock, sleep and random source.
#include <gmock/gmock.h>
#include <grpcpp/create_channel.h>
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <iterator>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "fake_environment.h"
#include "idem/client.h"
#include "scripted_server.h"

namespace idem {
namespace {

using ::testing::ElementsAre;
using testing::Fail;
using testing::FailBecause;
using testing::FakeEnvironment;
using ::testing::Pair;
using testing::ReceivedCall;
using testing::ScriptedReply;
using testing::ScriptedServer;

const ScriptedReply kUnavailable = Fail(grpc::StatusCode::UNAVAILABLE);

v1::UpdateRequest Increment() {
  v1::UpdateRequest request;
  request.set_table("counters");
  *request.mutable_key() = MakeRow({{"id", 1}});
  *request.mutable_increment() = MakeRow({{"n", 1}});
  return request;
}

class ClientRetryTest : public ::testing::Test {
 protected:
  ClientRetryTest() {
    options_.target = server_.target();
    options_.retry =
        RetryPolicy{/*max_attempts=*/5, absl::Seconds(30), absl::Seconds(5)};
    options_.backoff =
        BackoffPolicy{absl::Milliseconds(100), absl::Seconds(2), 2.0};
    options_.retry_budget = {/*max_tokens=*/1000, /*token_ratio=*/1};
    options_.environment = env_.environment();
  }

  Client MakeClient() { return *Client::Create(options_); }

  std::vector<std::string> Attempts() const {
    std::vector<std::string> attempts;
    for (const ReceivedCall& call : server_.received()) {
      attempts.push_back(call.attempt);
    }
    return attempts;
  }

  ScriptedServer server_;
  FakeEnvironment env_;
  ClientOptions options_;
};

TEST_F(ClientRetryTest, RetriesTransientFailuresWithGrowingBackoff) {
  server_.Script({kUnavailable, Fail(grpc::StatusCode::ABORTED),
                  Fail(grpc::StatusCode::DEADLINE_EXCEEDED)});
  CallInfo info;
  absl::StatusOr<v1::InsertResponse> result =
      MakeClient().Insert(v1::InsertRequest(), {}, &info);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(info.attempts, 4);
  EXPECT_EQ(info.stop_reason, StopReason::kSucceeded);
  EXPECT_TRUE(info.final_status.ok());
  // random = max: each sleep is exactly its ceiling.
  EXPECT_THAT(env_.sleeps(),
              ElementsAre(absl::Milliseconds(100), absl::Milliseconds(200),
                          absl::Milliseconds(400)));
  EXPECT_THAT(Attempts(), ElementsAre("1", "2", "3", "4"));
}

TEST_F(ClientRetryTest, JitterIsDrawnFromTheRandomSource) {
  env_.set_random(UINT64_MAX / 4);
  server_.Script({kUnavailable, kUnavailable});
  ASSERT_TRUE(MakeClient().CopyFile(v1::CopyFileRequest()).ok());
  const std::vector<absl::Duration> sleeps = env_.sleeps();
  ASSERT_EQ(sleeps.size(), 2u);
  EXPECT_NEAR(absl::ToDoubleMilliseconds(sleeps[0]), 25, 0.01);
  EXPECT_NEAR(absl::ToDoubleMilliseconds(sleeps[1]), 50, 0.01);
}

TEST_F(ClientRetryTest, NeverSleepsPastTheOverallDeadline) {
  options_.retry = RetryPolicy{/*max_attempts=*/100, absl::Seconds(1),
                               absl::Milliseconds(500)};
  options_.backoff =
      BackoffPolicy{absl::Milliseconds(300), absl::Seconds(10), 2.0};
  server_.Script(std::vector<ScriptedReply>(100, kUnavailable));
  CallInfo info;
  absl::StatusOr<v1::InsertResponse> result =
      MakeClient().Insert(v1::InsertRequest(), {}, &info);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(info.stop_reason, StopReason::kDeadline);
  EXPECT_EQ(info.attempts, 3);  // sleeps 300 + 600; 1200 more would pass 1 s
  EXPECT_LT(env_.now() - FakeEnvironment::start(), absl::Seconds(1));
}

TEST_F(ClientRetryTest, AnExhaustedBudgetStopsRetriesForTheWholeClient) {
  options_.retry_budget = {/*max_tokens=*/6, /*token_ratio=*/0.1};
  server_.Script(std::vector<ScriptedReply>(20, kUnavailable));
  const Client client = MakeClient();
  CallInfo first, second;
  EXPECT_FALSE(client.Insert(v1::InsertRequest(), {}, &first).ok());
  EXPECT_EQ(first.attempts, 3);  // tokens 5, 4, then 3 is not above half
  EXPECT_EQ(first.stop_reason, StopReason::kRetryBudget);
  const Client copy = client;  // copies share the budget
  EXPECT_FALSE(copy.Insert(v1::InsertRequest(), {}, &second).ok());
  EXPECT_EQ(second.attempts, 1);
  EXPECT_EQ(second.stop_reason, StopReason::kRetryBudget);
  EXPECT_EQ(server_.received().size(), 4u);
}

// A caller that passes what is left of its own deadline may pass zero or
// less: nothing is sent (the old client sent an attempt whose deadline had
// passed, which the server could still run).
TEST_F(ClientRetryTest, ASpentDeadlineSendsNothing) {
  Client client = MakeClient();
  for (absl::Duration total : {absl::ZeroDuration(), absl::Seconds(-5)}) {
    CallOptions options;
    options.retry = options_.retry;
    options.retry->total_timeout = total;
    CallInfo info;
    absl::StatusOr<v1::InsertResponse> result =
        client.Insert(v1::InsertRequest(), options, &info);
    EXPECT_EQ(result.status().code(), absl::StatusCode::kDeadlineExceeded)
        << result.status();
    EXPECT_EQ(info.attempts, 0);
    EXPECT_EQ(info.stop_reason, StopReason::kDeadline);
  }
  EXPECT_TRUE(server_.received().empty());
}

TEST_F(ClientRetryTest, HonoursServerPushback) {
  env_.set_random(0);  // the backoff alone would not wait at all
  server_.Script(
      {Fail(grpc::StatusCode::ABORTED, {{"grpc-retry-pushback-ms", "1234"}})});
  CallInfo info;
  ASSERT_TRUE(
      MakeClient().KeyedCall(ExactlyOnce(Increment(), "k1"), {}, &info).ok());
  EXPECT_EQ(info.attempts, 2);
  EXPECT_THAT(env_.sleeps(), ElementsAre(absl::Milliseconds(1234)));
}

TEST_F(ClientRetryTest, ANegativePushbackMeansDoNotRetry) {
  server_.Script({Fail(grpc::StatusCode::RESOURCE_EXHAUSTED,
                       {{"grpc-retry-pushback-ms", "-1"}})});
  CallInfo info;
  EXPECT_FALSE(MakeClient().Insert(v1::InsertRequest(), {}, &info).ok());
  EXPECT_EQ(info.attempts, 1);
  EXPECT_EQ(info.stop_reason, StopReason::kPushbackRefusal);
}

TEST_F(ClientRetryTest, ResourceExhaustedWithoutPushbackIsFinal) {
  // What gRPC's transport answers for a message over its size limit.
  server_.Script({Fail(grpc::StatusCode::RESOURCE_EXHAUSTED)});
  CallInfo info;
  EXPECT_FALSE(MakeClient().Insert(v1::InsertRequest(), {}, &info).ok());
  EXPECT_EQ(info.attempts, 1);
  EXPECT_EQ(info.stop_reason, StopReason::kNotRetryable);
}

TEST_F(ClientRetryTest, AutoKeysSendEachWriteUnderOneKeyOfItsOwn) {
  server_.Script({kUnavailable, Fail(grpc::StatusCode::ABORTED),
                  ScriptedReply{}, kUnavailable, kUnavailable});
  const Client client = MakeClient();
  CallInfo insert_info, update_info, copy_info;
  absl::StatusOr<v1::InsertResponse> inserted =
      client.Insert(v1::InsertRequest(), {}, &insert_info);
  ASSERT_TRUE(inserted.ok()) << inserted.status();
  ASSERT_TRUE(client.Update(Increment(), {}, &update_info).ok());
  ASSERT_TRUE(client.CopyFile(v1::CopyFileRequest(), {}, &copy_info).ok());

  const std::vector<ReceivedCall> calls = server_.received();
  ASSERT_EQ(calls.size(), 7u);
  EXPECT_EQ(insert_info.attempts, 3);
  EXPECT_EQ(update_info.attempts, 3);
  EXPECT_EQ(copy_info.attempts, 1);
  for (int i = 0; i < 7; ++i) {
    const CallInfo& info = i < 3   ? insert_info
                           : i < 6 ? update_info
                                   : copy_info;
    EXPECT_EQ(calls[i].method, "KeyedCall");
    EXPECT_EQ(calls[i].wrapped, i < 3   ? "insert"
                                : i < 6 ? "update"
                                        : "copy_file");
    EXPECT_EQ(calls[i].idempotency_key, info.idempotency_key);
  }
  EXPECT_EQ(insert_info.idempotency_key.size(), 36u);
  EXPECT_NE(insert_info.idempotency_key, update_info.idempotency_key);
  EXPECT_THAT(Attempts(), ElementsAre("1", "2", "3", "1", "2", "3", "1"));
}

TEST_F(ClientRetryTest, AnAutoKeyedWriteReportsAReplay) {
  ScriptedReply replayed;
  replayed.trailers = {{"idempotent-replayed", "true"}};
  server_.Script({kUnavailable, replayed});
  CallInfo info;
  ASSERT_TRUE(MakeClient().Insert(v1::InsertRequest(), {}, &info).ok());
  EXPECT_EQ(info.attempts, 2);
  EXPECT_TRUE(info.replayed);
}

// The key's answer has expired: nothing ran, and the call failed; CallInfo
// says it stopped on an answer no retry can mend, not that it succeeded.
TEST_F(ClientRetryTest, AnAutoKeyedWriteWhoseAnswerExpiredFails) {
  ScriptedReply expired;
  expired.answer_expired = true;
  server_.Script({expired});
  CallInfo info;
  absl::StatusOr<v1::InsertResponse> result =
      MakeClient().Insert(v1::InsertRequest(), {}, &info);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(info.final_status.code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(info.stop_reason, StopReason::kNotRetryable);
  EXPECT_TRUE(info.replayed);
}

TEST_F(ClientRetryTest, WritesGoAsThemselvesWhenRetriesAreOff) {
  CallOptions once;
  once.retry = options_.retry;
  once.retry->max_attempts = 1;
  CallInfo info;
  ASSERT_TRUE(MakeClient().Insert(v1::InsertRequest(), once, &info).ok());
  ASSERT_EQ(server_.received().size(), 1u);
  EXPECT_EQ(server_.received()[0].method, "Insert");
  EXPECT_EQ(info.idempotency_key, "");
}

TEST_F(ClientRetryTest, WithoutAutoKeysAWriteThatMayHaveRunIsNotRetried) {
  options_.auto_keys = false;
  v1::UpdateRequest set = Increment();
  set.clear_increment();
  *set.mutable_set() = MakeRow({{"n", 5}});
  server_.Script({kUnavailable, kUnavailable,
                  FailBecause(grpc::StatusCode::UNAVAILABLE, "COMMIT_UNKNOWN"),
                  Fail(grpc::StatusCode::DEADLINE_EXCEEDED)});
  const Client client = MakeClient();
  std::vector<CallInfo> infos(4);
  EXPECT_FALSE(client.Update(Increment(), {}, &infos[0]).ok());
  EXPECT_FALSE(client.Update(set, {}, &infos[1]).ok());
  EXPECT_FALSE(client.Insert(v1::InsertRequest(), {}, &infos[2]).ok());
  EXPECT_FALSE(client.CopyFile(v1::CopyFileRequest(), {}, &infos[3]).ok());
  for (const CallInfo& info : infos) {
    EXPECT_EQ(info.attempts, 1);
    EXPECT_EQ(info.stop_reason, StopReason::kNotIdempotent);
    EXPECT_EQ(info.idempotency_key, "");
  }
  std::vector<std::string> methods;
  for (const ReceivedCall& call : server_.received()) {
    methods.push_back(call.method);
  }
  EXPECT_THAT(methods, ElementsAre("Update", "Update", "Insert", "CopyFile"));
}

TEST_F(ClientRetryTest, WithoutAutoKeysAWriteIsRetriedWhenItDidNotRun) {
  options_.auto_keys = false;
  server_.Script({FailBecause(grpc::StatusCode::ABORTED, "ROW_LOCKED"),
                  FailBecause(grpc::StatusCode::RESOURCE_EXHAUSTED,
                              "OVERLOADED", absl::Milliseconds(20)),
                  FailBecause(grpc::StatusCode::UNAVAILABLE, "SHUTTING_DOWN")});
  CallInfo info;
  ASSERT_TRUE(MakeClient().Update(Increment(), {}, &info).ok());
  EXPECT_EQ(info.attempts, 4);
  EXPECT_EQ(server_.received()[3].method, "Update");
}

TEST_F(ClientRetryTest, FailuresCarryTheServersReasonAndMetadata) {
  server_.Script(
      {FailBecause(grpc::StatusCode::INVALID_ARGUMENT, "COLUMN_UNKNOWN",
                   std::nullopt, {{"column", "colour"}, {"row", "0"}})});
  CallInfo info;
  absl::StatusOr<v1::InsertResponse> result =
      MakeClient().Insert(v1::InsertRequest(), {}, &info);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ErrorReason(result.status()), reasons::kColumnUnknown);
  EXPECT_THAT(ErrorMetadata(result.status()),
              ElementsAre(Pair("column", "colour"), Pair("row", "0")));
  EXPECT_EQ(ErrorReason(info.final_status), reasons::kColumnUnknown);
  EXPECT_EQ(info.attempts, 1);
}

TEST_F(ClientRetryTest, RetryInfoIsHonouredBeforeThePushbackTrailer) {
  env_.set_random(0);  // the backoff alone would not wait at all
  ScriptedReply locked = FailBecause(grpc::StatusCode::ABORTED, "ROW_LOCKED",
                                     absl::Milliseconds(700));
  locked.trailers = {{"grpc-retry-pushback-ms", "1234"}};
  server_.Script({locked});
  CallInfo info;
  ASSERT_TRUE(MakeClient().Update(Increment(), {}, &info).ok());
  EXPECT_EQ(info.attempts, 2);
  EXPECT_THAT(env_.sleeps(), ElementsAre(absl::Milliseconds(700)));
}

TEST_F(ClientRetryTest, AFullDiskIsNotRetried) {
  server_.Script({FailBecause(grpc::StatusCode::RESOURCE_EXHAUSTED, "DISK_FULL",
                              absl::Seconds(1))});
  CallInfo info;
  absl::StatusOr<v1::CopyFileResponse> result =
      MakeClient().CopyFile(v1::CopyFileRequest(), {}, &info);
  EXPECT_EQ(ErrorReason(result.status()), reasons::kDiskFull);
  EXPECT_EQ(info.attempts, 1);
  EXPECT_EQ(info.stop_reason, StopReason::kNotRetryable);
}

TEST_F(ClientRetryTest, ATransactionIsAKeyedCallRetriedUnderItsKey) {
  server_.Script({kUnavailable});
  const Transaction transaction =
      Transaction().Insert(v1::InsertRequest()).Update(Increment(), true);
  const Client client = MakeClient();
  CallInfo info;
  absl::StatusOr<v1::TransactionResponse> result =
      client.Transaction(transaction, "order-42", {}, &info);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(info.attempts, 2);
  EXPECT_EQ(info.idempotency_key, "order-42");
  for (const ReceivedCall& call : server_.received()) {
    EXPECT_EQ(call.method, "KeyedCall");
    EXPECT_EQ(call.wrapped, "transaction");
    EXPECT_EQ(call.idempotency_key, "order-42");
  }
  ASSERT_TRUE(client.Transaction(transaction, "", {}, &info).ok());
  EXPECT_EQ(info.idempotency_key.size(), 36u);  // a new key
}

TEST_F(ClientRetryTest, GetKeyIsRetriedLikeARead) {
  server_.Script({kUnavailable, Fail(grpc::StatusCode::DEADLINE_EXCEEDED)});
  CallInfo info;
  absl::StatusOr<v1::GetKeyResponse> result =
      MakeClient().GetKey("order-42", {}, &info);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->state(), v1::KEY_STATE_FINISHED);
  EXPECT_EQ(info.attempts, 3);
  EXPECT_EQ(info.idempotency_key, "order-42");
  for (const ReceivedCall& call : server_.received()) {
    EXPECT_EQ(call.method, "GetKey");
    EXPECT_EQ(call.idempotency_key, "order-42");
  }
}

TEST_F(ClientRetryTest, ForgetKeyIsRetriedOnlyWhenItDidNotRun) {
  server_.Script({FailBecause(grpc::StatusCode::UNAVAILABLE, "SHUTTING_DOWN"),
                  ScriptedReply{}, kUnavailable});
  const Client client = MakeClient();
  CallInfo refused, lost;
  // Refused before it ran: the retry's answer is the call's own.
  absl::StatusOr<v1::ForgetKeyResponse> forgotten =
      client.ForgetKey("order-42", {}, &refused);
  ASSERT_TRUE(forgotten.ok()) << forgotten.status();
  EXPECT_TRUE(forgotten->forgotten());
  EXPECT_EQ(refused.attempts, 2);
  // Lost on the way: it may have forgotten the key, and a repeat would
  // answer forgotten = false.
  EXPECT_EQ(client.ForgetKey("order-42", {}, &lost).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(lost.attempts, 1);
  EXPECT_EQ(lost.stop_reason, StopReason::kNotIdempotent);
  EXPECT_EQ(server_.received().size(), 3u);
}

TEST_F(ClientRetryTest, CallMetadataIsTakenOnceAndSentWithEveryAttempt) {
  std::atomic<int> calls{0};
  options_.call_metadata = [&calls] {
    const int call = ++calls;
    return CallMetadata{{"traceparent", absl::StrCat("00-trace-", call, "-01")},
                        {"tracestate", "idem=test"}};
  };
  server_.Script({kUnavailable, kUnavailable});
  const Client client = MakeClient();
  ASSERT_TRUE(client.Insert(v1::InsertRequest()).ok());
  ASSERT_TRUE(client.GetKey("k").ok());
  EXPECT_EQ(calls, 2);
  const std::vector<ReceivedCall> received = server_.received();
  ASSERT_EQ(received.size(), 4u);
  for (size_t i = 0; i < received.size(); ++i) {
    const auto traceparent = received[i].metadata.equal_range("traceparent");
    ASSERT_EQ(std::distance(traceparent.first, traceparent.second), 1);
    EXPECT_EQ(traceparent.first->second,
              i < 3 ? "00-trace-1-01" : "00-trace-2-01");
    EXPECT_EQ(received[i].metadata.find("tracestate")->second, "idem=test");
  }
}

TEST_F(ClientRetryTest, SendsTheSameKeyOnEveryAttempt) {
  server_.Script({kUnavailable, Fail(grpc::StatusCode::ABORTED)});
  const v1::KeyedCallRequest once = ExactlyOnce(Increment());
  CallInfo info;
  ASSERT_TRUE(MakeClient().KeyedCall(once, {}, &info).ok());
  EXPECT_EQ(info.attempts, 3);
  EXPECT_EQ(info.idempotency_key, once.idempotency_key());
  for (const ReceivedCall& call : server_.received()) {
    EXPECT_EQ(call.idempotency_key, once.idempotency_key());
  }
  EXPECT_THAT(Attempts(), ElementsAre("1", "2", "3"));
}

TEST_F(ClientRetryTest, GeneratesOneKeyForAKeylessKeyedCall) {
  server_.Script({kUnavailable, kUnavailable});
  v1::KeyedCallRequest keyless;
  *keyless.mutable_update() = Increment();
  CallInfo info;
  ASSERT_TRUE(MakeClient().KeyedCall(keyless, {}, &info).ok());
  EXPECT_EQ(info.idempotency_key.size(), 36u);
  const std::vector<ReceivedCall> calls = server_.received();
  ASSERT_EQ(calls.size(), 3u);
  for (const ReceivedCall& call : calls) {
    EXPECT_EQ(call.idempotency_key, info.idempotency_key);
  }
}

TEST_F(ClientRetryTest, ReportsAReplayedStoredError) {
  server_.Script(
      {Fail(grpc::StatusCode::NOT_FOUND, {{"idempotent-replayed", "true"}})});
  CallInfo info;
  absl::StatusOr<v1::KeyedCallResponse> result =
      MakeClient().KeyedCall(ExactlyOnce(Increment(), "k2"), {}, &info);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(result.status().message(), "scripted failure");
  EXPECT_TRUE(info.replayed);
  EXPECT_EQ(info.attempts, 1);
  EXPECT_EQ(info.stop_reason, StopReason::kNotRetryable);
}

TEST_F(ClientRetryTest, ReportsAReplayedSuccess) {
  server_.Script({ScriptedReply{grpc::StatusCode::OK,
                                "",
                                {{"idempotent-replayed", "true"}},
                                absl::ZeroDuration()}});
  CallInfo info;
  absl::StatusOr<v1::KeyedCallResponse> result =
      MakeClient().KeyedCall(ExactlyOnce(Increment(), "k3"), {}, &info);
  ASSERT_TRUE(result.ok());
  EXPECT_TRUE(result->replayed());
  EXPECT_TRUE(info.replayed);
}

TEST_F(ClientRetryTest, RetriesAnAttemptThatTimedOut) {
  options_.retry = RetryPolicy{/*max_attempts=*/3, absl::Seconds(30),
                               absl::Milliseconds(100)};
  server_.Script(
      {ScriptedReply{grpc::StatusCode::OK, "", {}, absl::Milliseconds(1000)}});
  CallInfo info;
  ASSERT_TRUE(MakeClient().Insert(v1::InsertRequest(), {}, &info).ok());
  EXPECT_EQ(info.attempts, 2);
}

TEST_F(ClientRetryTest, PerCallOptionsOverrideTheClients) {
  server_.Script({kUnavailable, kUnavailable});
  CallOptions once;
  once.retry =
      RetryPolicy{/*max_attempts=*/1, absl::Seconds(5), absl::Seconds(5)};
  CallInfo info;
  EXPECT_FALSE(
      MakeClient().KeyedCall(ExactlyOnce(Increment()), once, &info).ok());
  EXPECT_EQ(info.attempts, 1);
  EXPECT_EQ(info.stop_reason, StopReason::kMaxAttempts);
}

TEST_F(ClientRetryTest, SendsTheBearerToken) {
  options_.bearer_token = "s3cret";
  ASSERT_TRUE(MakeClient().Insert(v1::InsertRequest()).ok());
  ASSERT_EQ(server_.received().size(), 1u);
  EXPECT_EQ(server_.received()[0].authorization, "Bearer s3cret");
}

// A token gRPC would refuse at the first call (a newline read with it from
// a file, a space, a control or non-ASCII character) is refused when the
// Client is made, without the token in the message.
TEST_F(ClientRetryTest, ABearerTokenAHeaderCannotCarryIsRefused) {
  for (const char* token :
       {"good-token\n", " good-token", "good token", "good-t\xc3\xb6ken"}) {
    options_.bearer_token = token;
    absl::StatusOr<Client> client = Client::Create(options_);
    EXPECT_EQ(client.status().code(), absl::StatusCode::kInvalidArgument)
        << token;
    EXPECT_FALSE(absl::StrContains(client.status().message(), "good"));
  }
  EXPECT_TRUE(server_.received().empty());
}

// Headers gRPC cannot send (it aborts the process on them): a call
// metadata key that is not lower-case, a value with a control character, a
// token with a newline given to FromChannel (which, unlike Create, cannot
// refuse it). The call fails INVALID_ARGUMENT and sends nothing; the old
// client took the whole process down (SIGABRT).
TEST_F(ClientRetryTest, HeadersGrpcCannotSendFailTheCallNotTheProcess) {
  for (const CallMetadata& bad :
       {CallMetadata{{"TraceParent", "00-x-01"}},
        CallMetadata{{"x-note", "line\nbreak"}}, CallMetadata{{"", "v"}}}) {
    options_.call_metadata = [bad] { return bad; };
    CallInfo info;
    absl::StatusOr<v1::InsertResponse> result =
        MakeClient().Insert(v1::InsertRequest(), {}, &info);
    EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument)
        << result.status();
    EXPECT_EQ(info.attempts, 0);
  }
  options_.call_metadata = nullptr;
  options_.bearer_token = "good-token\n";
  const Client from_channel = Client::FromChannel(
      grpc::CreateChannel(server_.target(), grpc::InsecureChannelCredentials()),
      options_);
  absl::StatusOr<v1::KeyedCallResponse> keyed =
      from_channel.KeyedCall(v1::KeyedCallRequest());
  EXPECT_EQ(keyed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(absl::StrContains(keyed.status().message(), "good"));
  EXPECT_TRUE(server_.received().empty());
}

// A call that ends before any attempt (its time spent) still answers on a
// gRPC thread, as every async callback does, never inside InsertAsync on
// the caller's thread, where a lock the caller holds would deadlock.
TEST_F(ClientRetryTest, ACallEndedBeforeAnyAttemptCallsBackOnAGrpcThread) {
  options_.environment = RetryEnvironment::Real();
  const Client client = MakeClient();
  CallOptions spent;
  spent.retry = options_.retry;
  spent.retry->total_timeout = absl::ZeroDuration();
  std::promise<std::thread::id> called_on;
  client.InsertAsync(
      v1::InsertRequest(),
      [&](absl::StatusOr<v1::InsertResponse> result, CallInfo) {
        EXPECT_EQ(result.status().code(), absl::StatusCode::kDeadlineExceeded);
        called_on.set_value(std::this_thread::get_id());
      },
      spent);
  EXPECT_NE(called_on.get_future().get(), std::this_thread::get_id());
}

TEST_F(ClientRetryTest, KeepsHundredsOfAsyncCallsInFlight) {
  constexpr int kCalls = 300;
  constexpr int kFailures = 100;
  server_.Script(std::vector<ScriptedReply>(kFailures, kUnavailable));
  // The failures go to whichever attempts arrive first, so one call may meet
  // many of them: allow it enough attempts to get through all.
  options_.retry.max_attempts = kFailures + 1;
  // The fake clock moves on by every call's backoff, as if the calls slept
  // one after another: a call's deadline would count the others' sleeps
  // (100 of at least 100 ms each, more when one call meets several) and
  // end it by chance. No deadline is under test here.
  options_.retry.total_timeout = absl::Hours(24);
  const Client client = MakeClient();
  std::atomic<int> succeeded{0}, finished{0};
  std::promise<void> all_done;
  for (int i = 0; i < kCalls; ++i) {
    client.KeyedCallAsync(
        ExactlyOnce(Increment()),
        [&](absl::StatusOr<v1::KeyedCallResponse> result, CallInfo) {
          if (result.ok()) ++succeeded;
          if (++finished == kCalls) all_done.set_value();
        });
  }
  all_done.get_future().wait();
  EXPECT_EQ(succeeded, kCalls);
  EXPECT_EQ(server_.received().size(), static_cast<size_t>(kCalls + kFailures));
}

TEST_F(ClientRetryTest, RealEnvironmentSleepsAndRetries) {
  options_.environment = RetryEnvironment::Real();
  options_.backoff =
      BackoffPolicy{absl::Milliseconds(50), absl::Milliseconds(50), 1.0};
  server_.Script({kUnavailable, kUnavailable});
  CallInfo info;
  const absl::Time start = absl::Now();
  ASSERT_TRUE(MakeClient().Insert(v1::InsertRequest(), {}, &info).ok());
  EXPECT_EQ(info.attempts, 3);
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
}

TEST(ClientWithoutServer, FailsCleanlyWithUnavailable) {
  ClientOptions options;
  options.target = "127.0.0.1:1";  // nothing listens on port 1
  options.retry =
      RetryPolicy{/*max_attempts=*/2, absl::Seconds(5), absl::Seconds(1)};
  CallInfo info;
  absl::StatusOr<v1::InsertResponse> result =
      Client::Create(options)->Insert(v1::InsertRequest(), {}, &info);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(info.attempts, 2);
}

// An empty target names no server: refused at once, rather than a Client
// whose every call fails UNKNOWN ("Failed to create secure client
// channel") with gRPC's complaints on stderr.
TEST(ClientCreate, RefusesAnEmptyTarget) {
  ClientOptions options;
  options.target = "";
  EXPECT_EQ(Client::Create(options).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ClientCreate, RefusesUnreadableTlsFiles) {
  ClientOptions options;
  options.tls.enabled = true;
  options.tls.ca_file = "/nonexistent/ca.pem";
  EXPECT_EQ(Client::Create(options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options.tls.ca_file.clear();
  options.tls.cert_file = "/nonexistent/cert.pem";
  EXPECT_EQ(Client::Create(options).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace idem
