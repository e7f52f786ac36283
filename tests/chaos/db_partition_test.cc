// A network partition between idem-server and PostgreSQL. The server reaches
// the tests' database only through a relay listening in a network namespace
// of the test's own; an iptables DROP rule there silences the connection the
// way a partition does (no reset, no FIN). Calls in flight at that moment
// must answer UNAVAILABLE within IDEM_DB_TCP_TIMEOUT and a little, and a
// retry under the same key once the rule is gone must replay the call if it
// committed, or run it once if it did not.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <pqxx/pqxx>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tests/chaos/netns_relay.h"
#include "tests/chaos/network_namespace.h"
#include "tests/support/polling.h"
#include "tests/support/server_process.h"
#include "tests/support/test_database.h"
#include "tests/support/values.h"

namespace idem::chaos {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::seconds;

constexpr int kCalls = 3;
constexpr seconds kTcpTimeout{3};
// Detection takes the timeout plus up to one keepalive interval; the rest is
// slack for a loaded machine. The old server waited for the kernel (hours),
// so its calls ran into kDeadline instead.
constexpr seconds kBound = kTcpTimeout + seconds(5);
constexpr seconds kDeadline{20};

int DatabasePort() {
  std::smatch port;
  const std::string url = testing::DatabaseUrl();
  if (!std::regex_search(url, port, std::regex(R"(:(\d+)/)"))) return -1;
  return std::stoi(port[1]);
}

class DbPartitionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<NetworkNamespace>> netns =
        NetworkNamespace::Create(absl::StrCat("p", getpid()));
    if (!netns.ok()) {
      GTEST_SKIP() << "no network partition possible here: "
                   << netns.status().message();
    }
    netns_ = *std::move(netns);
    firewall_ = std::make_unique<NamespaceFirewall>(*netns_);
    ASSERT_TRUE(firewall_->Setup());
    absl::StatusOr<std::unique_ptr<NetnsRelay>> relay =
        NetnsRelay::Start(netns_->name(), netns_->address(), DatabasePort());
    ASSERT_TRUE(relay.ok()) << relay.status();
    relay_ = *std::move(relay);

    table_ = testing::TestDatabase::UniqueName("partition");
    db_.Exec(absl::StrCat("CREATE TABLE ", table_,
                          " (id bigint PRIMARY KEY, n bigint NOT NULL);"
                          "INSERT INTO ",
                          table_, " SELECT g, 0 FROM generate_series(1, ",
                          kCalls, ") g"));
    testing::ServerProcess::Options options;
    options.env = {
        {"IDEM_DATABASE_URL",
         absl::StrCat("postgresql://postgres@", relay_->address(), "/idem")},
        {"IDEM_DB_TCP_TIMEOUT", absl::StrCat(kTcpTimeout.count(), "s")},
        {"IDEM_TABLES", table_},
        // One call per transaction, each on its own connection.
        {"IDEM_BATCH_MAX_CALLS", "1"},
        {"IDEM_BATCH_THREADS", absl::StrCat(kCalls + 1)},
        // Calls wait at the test's gates below without running out of time.
        {"IDEM_LOCK_TIMEOUT", "20s"}};
    server_ = testing::ServerProcess::Start(options);
  }

  void TearDown() override {
    for (std::thread& call : calls_) {
      if (call.joinable()) call.join();
    }
  }

  v1::KeyedCallRequest Increment(int id) const {
    v1::KeyedCallRequest request;
    request.set_idempotency_key(absl::StrCat(table_, "-", id));
    v1::UpdateRequest& update = *request.mutable_update();
    update.set_table(table_);
    *update.mutable_key() = testing::RowOf({{"id", testing::Int(id)}});
    *update.mutable_increment() = testing::RowOf({{"n", testing::Int(1)}});
    return request;
  }

  // Sends every call at once; Finish() waits for their answers.
  void StartCalls() {
    for (int i = 0; i < kCalls; ++i) {
      calls_.emplace_back([this, i] {
        grpc::ClientContext context;
        context.set_deadline(std::chrono::system_clock::now() + kDeadline);
        v1::KeyedCallResponse response;
        statuses_[i] =
            server_->Stub()->KeyedCall(&context, Increment(i + 1), &response);
        answered_[i] = Clock::now();
      });
    }
  }

  // Every call answered UNAVAILABLE within kBound of the drop.
  void ExpectUnavailableSoonAfter(Clock::time_point dropped) {
    for (std::thread& call : calls_) call.join();
    for (int i = 0; i < kCalls; ++i) {
      EXPECT_EQ(statuses_[i].error_code(), grpc::StatusCode::UNAVAILABLE)
          << "call " << i << ": " << statuses_[i].error_message();
      const auto ms = [](Clock::duration d) {
        return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
      };
      EXPECT_LE(ms(answered_[i] - dropped), ms(kBound))
          << "call " << i << " answered that many ms after the drop";
    }
  }

  // Retries every call under its key until it is answered OK (a stale
  // session of the database may still hold its row for a moment).
  void ExpectRetriesAnswer(bool replayed) {
    for (int i = 0; i < kCalls; ++i) {
      grpc::Status status;
      v1::KeyedCallResponse response;
      ASSERT_TRUE(testing::Eventually(
          [&] {
            grpc::ClientContext context;
            context.set_deadline(std::chrono::system_clock::now() + seconds(5));
            response.Clear();
            status = server_->Stub()->KeyedCall(&context, Increment(i + 1),
                                                &response);
            return status.ok();
          },
          seconds(30)))
          << "call " << i << ": " << status.error_message();
      EXPECT_EQ(response.replayed(), replayed) << "call " << i;
    }
  }

  std::string Counts() {
    return db_.Scalar(absl::StrCat(
        "SELECT string_agg(n::text, ',' ORDER BY id) FROM ", table_));
  }

  // idem-server sessions that wait in COMMIT on the gate below.
  int CommitsAtTheGate() {
    return std::stoi(db_.Scalar(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = "
        "'idem-server' AND query = 'COMMIT' AND wait_event = 'advisory'"));
  }

  std::unique_ptr<NetworkNamespace> netns_;
  std::unique_ptr<NamespaceFirewall> firewall_;
  std::unique_ptr<NetnsRelay> relay_;
  testing::TestDatabase db_;
  std::string table_;
  std::unique_ptr<testing::ServerProcess> server_;
  std::vector<std::thread> calls_;
  grpc::Status statuses_[kCalls];
  Clock::time_point answered_[kCalls];
};

TEST_F(DbPartitionTest, CommitInDoubtAnswersUnavailableAndTheRetryReplays) {
  // A deferred trigger holds each COMMIT at an advisory lock of the test's.
  const std::string gate = absl::StrCat("hashtext('", table_, "')");
  db_.Exec(absl::StrCat(
      "CREATE FUNCTION ", table_,
      "_gate() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM "
      "pg_advisory_xact_lock_shared(",
      gate, "); RETURN NULL; END $$; CREATE CONSTRAINT TRIGGER gate AFTER ",
      "UPDATE ON ", table_,
      " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ", table_,
      "_gate()"));
  pqxx::connection holder(testing::DatabaseUrl());
  pqxx::nontransaction(holder).exec(
      absl::StrCat("SELECT pg_advisory_lock(", gate, ")"));
  StartCalls();
  ASSERT_TRUE(testing::Eventually([&] { return CommitsAtTheGate() == kCalls; }))
      << server_->Log();

  ASSERT_TRUE(firewall_->Add("1", /*reset=*/false));
  const Clock::time_point dropped = Clock::now();
  // The commits go through, and their answers are lost in the partition.
  pqxx::nontransaction(holder).exec(
      absl::StrCat("SELECT pg_advisory_unlock(", gate, ")"));
  ExpectUnavailableSoonAfter(dropped);
  EXPECT_EQ(Counts(), "1,1,1");

  firewall_->Flush();
  ExpectRetriesAnswer(/*replayed=*/true);
  EXPECT_EQ(Counts(), "1,1,1");
}

TEST_F(DbPartitionTest, CallCutBeforeCommitAnswersUnavailableAndTheRetryRuns) {
  // The test holds every row, so that each call waits inside its UPDATE.
  pqxx::connection holder(testing::DatabaseUrl());
  auto rows = std::make_unique<pqxx::work>(holder);
  rows->exec(absl::StrCat("SELECT * FROM ", table_, " FOR UPDATE"));
  StartCalls();
  ASSERT_TRUE(testing::Eventually([&] {
    return db_.LockWaiters(table_) == kCalls;
  })) << server_->Log();

  ASSERT_TRUE(firewall_->Add("1", /*reset=*/false));
  const Clock::time_point dropped = Clock::now();
  // The updates go through; their answers, and so the COMMITs, are lost.
  rows->abort();
  ExpectUnavailableSoonAfter(dropped);
  EXPECT_EQ(Counts(), "0,0,0");

  firewall_->Flush();
  ExpectRetriesAnswer(/*replayed=*/false);
  EXPECT_EQ(Counts(), "1,1,1");
}

}  // namespace
}  // namespace idem::chaos
