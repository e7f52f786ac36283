// The Batch RPC against one server, as a caller in any language sends it:
// each call answered as if sent alone, one failing call failing alone,
// replays, and refusals of the whole batch that change nothing.
#include <string>
#include <vector>

#include "tests/integration/keyed/keyed_fixture.h"

namespace idem::testing::keyed {
namespace {

class BatchRpcTest : public KeyedCallTest {
 protected:
  static grpc::Status SendBatch(const std::vector<v1::BatchCall>& calls,
                                v1::BatchResponse* response) {
    v1::BatchRequest request;
    for (const v1::BatchCall& call : calls) *request.add_calls() = call;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 30s);
    return stub().Batch(&context, request, response);
  }
  static v1::BatchCall Keyed(v1::KeyedCallRequest request) {
    v1::BatchCall call;
    *call.mutable_keyed_call() = std::move(request);
    return call;
  }
  static v1::BatchCall Plain(v1::InsertRequest request) {
    v1::BatchCall call;
    *call.mutable_insert() = std::move(request);
    return call;
  }
  static v1::InsertRequest Item(const std::string& table, int64_t id) {
    return InsertRow("unused", table, {{"id", Int(id)}, {"name", Str("b")}})
        .insert();
  }
  // What the same insert gets when sent alone.
  static grpc::Status Alone(const v1::InsertRequest& request) {
    grpc::ClientContext context;
    v1::InsertResponse response;
    return stub().Insert(&context, request, &response);
  }
  static void ExpectFailedLike(const v1::BatchResult& result,
                               const grpc::Status& alone) {
    EXPECT_NE(result.code(), 0);
    EXPECT_EQ(result.code(), alone.error_code());
    EXPECT_EQ(result.message(), alone.error_message());
    EXPECT_EQ(result.result_case(), v1::BatchResult::RESULT_NOT_SET);
  }
};

TEST_F(BatchRpcTest, EachCallIsAnsweredAsIfSentAlone) {
  const int64_t counter = NewCounter();
  const std::string key = NewKey("batch");
  const std::string bad_key = "has space";
  v1::KeyedCallRequest bad_keyed = Increment(bad_key, counters(), counter);
  v1::BatchResponse response;
  grpc::Status status =
      SendBatch({Plain(Item(items(), 2001)),   // inserted
                 Plain(Item(absent(), 2002)),  // refused: no such table
                 Keyed(Increment(key, counters(), counter, 7)),  // runs once
                 v1::BatchCall(),    // holds no call
                 Keyed(bad_keyed)},  // refused: bad key
                &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(response.results_size(), 5);

  EXPECT_EQ(response.results(0).code(), 0);
  ASSERT_TRUE(response.results(0).has_insert());
  ASSERT_EQ(response.results(0).insert().outcomes_size(), 1);
  EXPECT_EQ(response.results(0).insert().outcomes(0), v1::ROW_OUTCOME_INSERTED);
  ExpectFailedLike(response.results(1), Alone(Item(absent(), 2002)));
  EXPECT_EQ(response.results(2).code(), 0);
  EXPECT_FALSE(response.results(2).replayed());
  EXPECT_EQ(response.results(2).keyed_call().update().outcome(),
            v1::UPDATE_OUTCOME_UPDATED);
  EXPECT_EQ(response.results(3).code(), grpc::StatusCode::INVALID_ARGUMENT);
  Answer bad_alone = Call(stub(), bad_keyed);
  EXPECT_EQ(response.results(4).code(), bad_alone.status.error_code());
  EXPECT_EQ(response.results(4).message(), bad_alone.status.error_message());

  EXPECT_EQ(ItemCount(2001), 1);
  EXPECT_EQ(Counter(counter), 7);
  EXPECT_EQ(KeyState(key), "2");
  EXPECT_EQ(KeyRows(bad_key), 0);
}

TEST_F(BatchRpcTest, ABatchSentAgainReplaysEveryKeyedCall) {
  const int64_t counter = NewCounter();
  std::vector<v1::BatchCall> calls;
  for (int i = 0; i < 20; ++i) {
    calls.push_back(Keyed(Increment(NewKey("again"), counters(), counter)));
  }
  // The same key twice in one batch: the call runs once, the other replays.
  calls.push_back(calls.back());
  v1::BatchResponse first, again;
  ASSERT_TRUE(SendBatch(calls, &first).ok());
  ASSERT_TRUE(SendBatch(calls, &again).ok());
  EXPECT_EQ(Counter(counter), 20);

  ASSERT_EQ(first.results_size(), 21);
  EXPECT_NE(first.results(19).replayed(), first.results(20).replayed());
  ASSERT_EQ(again.results_size(), 21);
  for (int i = 0; i < 21; ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(again.results(i).code(), 0);
    EXPECT_TRUE(again.results(i).replayed());
    EXPECT_TRUE(again.results(i).keyed_call().replayed());
    EXPECT_EQ(again.results(i).keyed_call().first_executed_at().seconds(),
              first.results(i).keyed_call().first_executed_at().seconds());
  }
  // A lone call under one of the keys replays the same answer.
  Answer alone = Call(stub(), calls[0].keyed_call());
  EXPECT_TRUE(alone.marked_replayed());
  EXPECT_EQ(alone.response.first_executed_at().nanos(),
            first.results(0).keyed_call().first_executed_at().nanos());
}

TEST_F(BatchRpcTest, ABatchOverTheCallLimitIsRefusedWhole) {
  const int64_t counter = NewCounter();
  std::vector<v1::BatchCall> calls;
  std::vector<std::string> keys;
  for (int i = 0; i < 1001; ++i) {
    keys.push_back(NewKey("over"));
    calls.push_back(Keyed(Increment(keys.back(), counters(), counter)));
  }
  v1::BatchResponse response;
  grpc::Status status = SendBatch(calls, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(response.results_size(), 0);
  EXPECT_EQ(Counter(counter), 0);
  EXPECT_EQ(KeyRows(keys.front()), 0);
  EXPECT_EQ(KeyRows(keys.back()), 0);
}

// The largest batch the proto allows runs whole on a server with the
// default settings: each of its calls takes one of its tenant's slots
// (IDEM_TENANT_MAX_IN_FLIGHT), and an idle tenant has enough of them.
TEST_F(BatchRpcTest, ABatchOfTheMostCallsAllowedRunsWhole) {
  std::vector<v1::BatchCall> calls;
  for (int i = 0; i < 1000; ++i) {
    calls.push_back(Plain(Item(items(), 100000 + i)));
  }
  v1::BatchResponse response;
  grpc::Status status = SendBatch(calls, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(response.results_size(), 1000);
  int refused = 0;
  std::string first_refusal;
  for (const v1::BatchResult& result : response.results()) {
    if (result.code() == 0) continue;
    if (refused++ == 0) first_refusal = result.message();
  }
  EXPECT_EQ(refused, 0) << first_refusal;
}

TEST_F(BatchRpcTest, AnEmptyBatchIsAnsweredWithNoResults) {
  v1::BatchResponse response;
  EXPECT_TRUE(SendBatch({}, &response).ok());
  EXPECT_EQ(response.results_size(), 0);
}

}  // namespace
}  // namespace idem::testing::keyed
