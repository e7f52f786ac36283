// Two Inserts of the same new key at the same instant, over and over with
// fresh keys: exactly one of them inserts; the other sees the winner's row.
#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <thread>

#include "tests/integration/harness.h"

namespace idem::testing {
namespace {

constexpr int kRounds = 50;

// Releases every waiting thread at once when the last one arrives.
class StartLine {
 public:
  explicit StartLine(int parties) : waiting_(parties) {}
  void ArriveAndWait() {
    std::unique_lock<std::mutex> lock(mu_);
    if (--waiting_ == 0) {
      go_.notify_all();
      return;
    }
    go_.wait(lock, [this] { return waiting_ == 0; });
  }

 private:
  std::mutex mu_;
  std::condition_variable go_;
  int waiting_;
};

struct Race {
  v1::OnConflict policy;
  bool same_values;
  // The loser's outcome.
  v1::RowOutcome expected;
};

std::ostream& operator<<(std::ostream& out, const Race& race) {
  return out << v1::OnConflict_Name(race.policy)
             << (race.same_values ? " same values" : " different values");
}

class ConcurrencyTest : public IntegrationTest,
                        public ::testing::WithParamInterface<Race> {};

TEST_P(ConcurrencyTest, ExactlyOneOfTwoConcurrentInsertsInserts) {
  const Race& race = GetParam();
  std::string table = CreateTable("id bigint PRIMARY KEY, name text");
  // Each racer has its own channel, so neither queues behind the other.
  std::unique_ptr<v1::IdemService::Stub> stubs[] = {
      v1::IdemService::NewStub(server().Channel()),
      v1::IdemService::NewStub(server().Channel())};
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE(round);
    StartLine start(2);
    v1::InsertResponse responses[2];
    grpc::Status statuses[2];
    std::thread racers[2];
    for (int r = 0; r < 2; ++r) {
      racers[r] = std::thread([&, r] {
        std::string name =
            race.same_values ? "same" : "racer" + std::to_string(r);
        v1::InsertRequest request = InsertOf(
            table, {{{"id", Int(round)}, {"name", Str(name)}}}, race.policy);
        grpc::ClientContext context;
        context.set_deadline(std::chrono::system_clock::now() +
                             std::chrono::seconds(30));
        start.ArriveAndWait();
        statuses[r] = stubs[r]->Insert(&context, request, &responses[r]);
      });
    }
    for (std::thread& racer : racers) racer.join();
    std::multiset<int> outcomes;
    for (int r = 0; r < 2; ++r) {
      ASSERT_TRUE(statuses[r].ok()) << statuses[r].error_message();
      ASSERT_EQ(responses[r].outcomes_size(), 1);
      outcomes.insert(responses[r].outcomes(0));
    }
    EXPECT_EQ(outcomes,
              (std::multiset<int>{v1::ROW_OUTCOME_INSERTED, race.expected}));
  }
  EXPECT_EQ(db().Scalar("SELECT count(*) FROM " + table),
            std::to_string(kRounds));
}

INSTANTIATE_TEST_SUITE_P(
    Races, ConcurrencyTest,
    ::testing::Values(
        Race{v1::ON_CONFLICT_DO_NOTHING, true, v1::ROW_OUTCOME_DUPLICATE},
        Race{v1::ON_CONFLICT_DO_NOTHING, false, v1::ROW_OUTCOME_CONFLICT},
        Race{v1::ON_CONFLICT_DO_UPDATE, true, v1::ROW_OUTCOME_DUPLICATE},
        Race{v1::ON_CONFLICT_DO_UPDATE, false, v1::ROW_OUTCOME_UPDATED}),
    [](const ::testing::TestParamInfo<Race>& info) {
      return v1::OnConflict_Name(info.param.policy).substr(12) +
             (info.param.same_values ? "_SameValues" : "_DifferentValues");
    });

}  // namespace
}  // namespace idem::testing
