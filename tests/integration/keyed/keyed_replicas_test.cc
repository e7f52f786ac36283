// Two idem-server processes on one database share keys: PostgreSQL, not
// either process's memory, decides who runs a call.
#include <thread>
#include <vector>

#include "tests/integration/keyed/keyed_fixture.h"

namespace idem::testing::keyed {
namespace {

class KeyedReplicasTest : public KeyedCallTest {
 public:
  static void SetUpTestSuite() {
    KeyedCallTest::SetUpTestSuite();
    other_ = StartAnotherServer();
    other_stub_ = other_->Stub();
  }
  static void TearDownTestSuite() {
    other_stub_.reset();
    other_.reset();
    KeyedCallTest::TearDownTestSuite();
  }

 protected:
  // Replica 0 is the suite's server, replica 1 the other process.
  static v1::IdemService::Stub& replica(int i) {
    return i % 2 == 0 ? stub() : *other_stub_;
  }

  static std::unique_ptr<ServerProcess> other_;
  static std::unique_ptr<v1::IdemService::Stub> other_stub_;
};

std::unique_ptr<ServerProcess> KeyedReplicasTest::other_;
std::unique_ptr<v1::IdemService::Stub> KeyedReplicasTest::other_stub_;

TEST_F(KeyedReplicasTest, AlternatingCallsRunOnceAndReplayOnBoth) {
  int64_t id = NewCounter();
  constexpr int kKeys = 10;
  for (int k = 0; k < kKeys; ++k) {
    std::string key = NewKey("alternating");
    // Key k starts on replica k % 2, then alternates.
    Answer first = Call(replica(k), Increment(key, counters(), id));
    ExpectExecuted(first);
    for (int i = 1; i <= 3; ++i) {
      ExpectReplayOf(Call(replica(k + i), Increment(key, counters(), id)),
                     first);
    }
  }
  EXPECT_EQ(Counter(id), kKeys);
}

TEST_F(KeyedReplicasTest, MismatchIsSeenByTheOtherReplica) {
  int64_t id = NewCounter();
  std::string key = NewKey("mismatch");
  ExpectExecuted(Call(replica(0), Increment(key, counters(), id, 1)));
  Answer other = Call(replica(1), Increment(key, counters(), id, 2));
  EXPECT_EQ(other.status.error_code(), grpc::StatusCode::FAILED_PRECONDITION)
      << other.status.error_message();
  EXPECT_EQ(Counter(id), 1);
}

// Every key is sent by four callers at once, two per replica: each key's
// increment happens once and all four callers get its answer.
TEST_F(KeyedReplicasTest, ConcurrentCallsAcrossReplicasRunOnce) {
  int64_t id = NewCounter();
  constexpr int kKeys = 16;
  constexpr int kCallersPerKey = 4;
  std::vector<std::string> keys;
  for (int k = 0; k < kKeys; ++k) keys.push_back(NewKey("both"));
  std::vector<Answer> answers(kKeys * kCallersPerKey);
  {
    std::vector<std::thread> callers;
    for (int c = 0; c < kCallersPerKey; ++c) {
      callers.emplace_back([&, c] {
        for (int k = 0; k < kKeys; ++k) {
          answers[k * kCallersPerKey + c] =
              CallUntilSettled(replica(c), Increment(keys[k], counters(), id));
        }
      });
    }
    for (std::thread& caller : callers) caller.join();
  }
  bool replayed_on[2] = {false, false};
  for (int k = 0; k < kKeys; ++k) {
    SCOPED_TRACE(keys[k]);
    const Answer* first = nullptr;
    for (int c = 0; c < kCallersPerKey; ++c) {
      const Answer& answer = answers[k * kCallersPerKey + c];
      ASSERT_TRUE(answer.ok()) << answer.status.error_message();
      if (!answer.response.replayed()) {
        EXPECT_EQ(first, nullptr) << "key ran twice";
        first = &answer;
      } else {
        replayed_on[c % 2] = true;
      }
    }
    ASSERT_NE(first, nullptr);
    for (int c = 0; c < kCallersPerKey; ++c) {
      const Answer& answer = answers[k * kCallersPerKey + c];
      if (&answer != first) ExpectReplayOf(answer, *first);
    }
  }
  EXPECT_TRUE(replayed_on[0] && replayed_on[1]);
  EXPECT_EQ(Counter(id), kKeys);
}

}  // namespace
}  // namespace idem::testing::keyed
