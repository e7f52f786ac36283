// ForgetKey and the replay caches of replicas that share a database: a
// forget through one replica reaches the other's cache through PostgreSQL's
// LISTEN/NOTIFY, and a replica whose listening session is lost answers
// replays from the database, not from memory, until it listens again.
//
// On a database of the suite's own: the tests count the notifications a
// replica heard and terminate its listening session, which a forget or a
// replica of another suite on the shared database would disturb.
#include <memory>
#include <sstream>
#include <string>

#include "nlohmann/json.hpp"
#include "service/keys/forget_listener.h"
#include "tests/integration/keyed/keyed_fixture.h"
#include "tests/support/fault_proxy.h"
#include "tests/support/metrics_scrape.h"
#include "tests/support/scratch_database.h"

namespace idem::testing::keyed {
namespace {

// An idem-server on the suite's database, with its metrics.
class Replica {
 public:
  explicit Replica(const std::string& database_url,
                   std::map<std::string, std::string> env = {})
      : metrics_port_(FreeLoopbackPort()) {
    env["IDEM_DATABASE_URL"] = database_url;
    env["IDEM_TABLES"] = "counters";
    env["IDEM_METRICS_LISTEN"] = "127.0.0.1:" + std::to_string(metrics_port_);
    process_ = ServerProcess::Start({.env = env, .args = {}});
    stub_ = process_->Stub();
  }

  v1::IdemService::Stub& stub() { return *stub_; }
  const ServerProcess& process() const { return *process_; }

  // A sample of its metrics (0 when absent).
  double Metric(const std::string& sample) const {
    return Samples(Scrape(metrics_port_))[sample];
  }
  double hits() const { return Metric("idem_replay_cache_hits_total"); }
  double heard() const { return Metric("idem_forget_notifications_total"); }
  bool serving() const { return Metric("idem_replay_cache_serving") == 1; }

  bool Forget(const std::string& key) {
    grpc::ClientContext context;
    v1::ForgetKeyRequest request;
    request.set_idempotency_key(key);
    v1::ForgetKeyResponse response;
    grpc::Status status = stub_->ForgetKey(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.forgotten();
  }

 private:
  const int metrics_port_;
  std::unique_ptr<ServerProcess> process_;
  std::unique_ptr<v1::IdemService::Stub> stub_;
};

class ForgetAcrossReplicasTest : public ::testing::Test {
 public:
  static void SetUpTestSuite() {
    database_ = new ScratchDatabase("idem_forget");
    db_ = new TestDatabase(database_->url());
    db_->Exec(
        "CREATE TABLE counters (id bigint PRIMARY KEY, n bigint NOT NULL "
        "DEFAULT 0)");
  }
  static void TearDownTestSuite() {
    delete db_;
    delete database_;
  }

 protected:
  static int64_t NewCounter() {
    static int64_t next = 0;
    db_->Exec("INSERT INTO counters (id) VALUES (" + std::to_string(++next) +
              ")");
    return next;
  }
  static int64_t Counter(int64_t id) {
    return std::stoll(
        db_->Scalar("SELECT n FROM counters WHERE id = " + std::to_string(id)));
  }

  static ScratchDatabase* database_;
  static TestDatabase* db_;  // on database_
};

ScratchDatabase* ForgetAcrossReplicasTest::database_ = nullptr;
TestDatabase* ForgetAcrossReplicasTest::db_ = nullptr;

TEST_F(ForgetAcrossReplicasTest, TheNextCallRunsAgainOnEitherReplica) {
  Replica a(database_->url());
  Replica b(database_->url());
  const int64_t counter = NewCounter();
  const v1::KeyedCallRequest request =
      Increment("forget-on-a", "counters", counter);
  // A commits the call and remembers it; B reads it once and remembers it.
  const Answer first = Call(a.stub(), request);
  ExpectExecuted(first);
  ExpectReplayOf(Call(b.stub(), request), first);
  const double b_hits = b.hits();
  ExpectReplayOf(Call(b.stub(), request), first);
  ASSERT_EQ(b.hits(), b_hits + 1) << "B did not answer from memory";

  const double a_heard = a.heard();
  const double b_heard = b.heard();
  EXPECT_TRUE(a.Forget("forget-on-a"));
  // Both listeners hear it, within their own scheduling delay.
  ASSERT_TRUE(Eventually(
      [&] { return a.heard() == a_heard + 1 && b.heard() == b_heard + 1; }));

  const Answer again = Call(b.stub(), request);
  ExpectExecuted(again);
  // A replays B's new answer, not the one it remembered.
  ExpectReplayOf(Call(a.stub(), request), again);
  EXPECT_EQ(Counter(counter), 2);
}

// "After ForgetKey answers, no replica replays the key", however late the
// notification reaches a replica: here B's listener hears through a proxy
// that, once B remembers the key, holds every answer for 700 ms (less than
// the heartbeat's deadline, so B's session is not given up).
TEST_F(ForgetAcrossReplicasTest,
       AReplicaThatHearsLateDoesNotReplayAForgottenKey) {
  const std::string url = database_->url();
  const size_t host = url.find('@') + 1;
  const size_t path = url.find('/', host);
  auto proxy = FaultProxy::Start(url.substr(host, path - host));
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  Replica a(url);
  Replica b(url,
            {{"IDEM_NOTIFY_DATABASE_URL",
              url.substr(0, host) + (*proxy)->address() + url.substr(path)}});
  const int64_t counter = NewCounter();
  const v1::KeyedCallRequest request =
      Increment("forget-heard-late", "counters", counter);
  const Answer first = Call(a.stub(), request);
  ExpectExecuted(first);
  ExpectReplayOf(Call(b.stub(), request), first);
  ASSERT_TRUE(Eventually([&] {
    const double hits = b.hits();
    ExpectReplayOf(Call(b.stub(), request), first);
    return b.hits() == hits + 1;
  })) << "B does not answer from memory";

  FaultProxy::Faults late;
  late.response_delay = absl::Milliseconds(700);
  (*proxy)->SetFaults(late);
  const double b_heard = b.heard();
  EXPECT_TRUE(a.Forget("forget-heard-late"));
  ExpectExecuted(Call(b.stub(), request));
  EXPECT_EQ(Counter(counter), 2);

  (*proxy)->SetFaults({});
  EXPECT_TRUE(Eventually([&] { return b.heard() == b_heard + 1; }));
}

TEST_F(ForgetAcrossReplicasTest, ALostListenerTurnsTheCacheOffUntilItListens) {
  // No reaper pass meanwhile: while the database refuses new sessions, the
  // replays must find the pool's session idle.
  Replica replica(database_->url(), {{"IDEM_REAPER_INTERVAL", "1h"}});
  ASSERT_TRUE(replica.serving());
  const int64_t counter = NewCounter();
  const v1::KeyedCallRequest request =
      Increment("lost-listener", "counters", counter);
  const Answer first = Call(replica.stub(), request);
  ExpectExecuted(first);
  double hits = replica.hits();
  ExpectReplayOf(Call(replica.stub(), request), first);
  ASSERT_EQ(replica.hits(), ++hits) << "not answered from memory";

  // The listening session ends and cannot come back yet.
  database_->AllowConnections(false);
  EXPECT_EQ(db_->Scalar(std::string("SELECT count(pg_terminate_backend(pid)) "
                                    "FROM pg_stat_activity WHERE datname = "
                                    "current_database() AND application_name "
                                    "= '") +
                        keys::kForgetListenerName + "'"),
            "1");
  ASSERT_TRUE(Eventually([&] { return !replica.serving(); }))
      << replica.process().Log();
  for (int i = 0; i < 2; ++i) {
    ExpectReplayOf(Call(replica.stub(), request), first);
  }
  EXPECT_EQ(replica.hits(), hits) << "answered from memory while not listening";

  database_->AllowConnections(true);
  ASSERT_TRUE(Eventually([&] { return replica.serving(); }))
      << replica.process().Log();
  // It starts empty: the first replay reads the database, the next one is
  // remembered.
  ExpectReplayOf(Call(replica.stub(), request), first);
  EXPECT_EQ(replica.hits(), hits);
  ExpectReplayOf(Call(replica.stub(), request), first);
  EXPECT_EQ(replica.hits(), hits + 1);
  EXPECT_EQ(Counter(counter), 1);
  // The log stays one JSON object per line (README): the terminated
  // session's FATAL went through libpq's notice processor, which printed
  // it raw.
  std::istringstream log(replica.process().Log());
  for (std::string line; std::getline(log, line);) {
    EXPECT_TRUE(nlohmann::json::accept(line)) << line;
  }
}

// The metrics an operator reads count what their names say:
// idem_replay_cache_hits_total replays answered from memory (not calls
// under a remembered key that were refused KEY_MISMATCH), and
// idem_forget_notifications_total keys forgotten (not ForgetKey calls that
// found nothing to forget).
TEST_F(ForgetAcrossReplicasTest, TheCacheAndForgetMetricsCountWhatTheySay) {
  Replica replica(database_->url());
  const int64_t counter = NewCounter();
  const Answer first =
      Call(replica.stub(), Increment("metrics-key", "counters", counter));
  ExpectExecuted(first);
  const double hits = replica.hits();
  for (int i = 0; i < 3; ++i) {
    const Answer mismatch =
        Call(replica.stub(), Increment("metrics-key", "counters", counter, 5));
    EXPECT_EQ(mismatch.status.error_code(),
              grpc::StatusCode::FAILED_PRECONDITION);
  }
  EXPECT_EQ(replica.hits(), hits) << "a KEY_MISMATCH counted as a replay";
  ExpectReplayOf(
      Call(replica.stub(), Increment("metrics-key", "counters", counter)),
      first);
  EXPECT_EQ(replica.hits(), hits + 1);

  const double heard = replica.heard();
  EXPECT_FALSE(replica.Forget("metrics-never-used"));
  EXPECT_TRUE(replica.Forget("metrics-key"));
  ASSERT_TRUE(Eventually([&] { return replica.heard() >= heard + 1; }));
  absl::SleepFor(absl::Milliseconds(500));  // a second one would be late
  EXPECT_EQ(replica.heard(), heard + 1) << "a forget of nothing was counted";
}

}  // namespace
}  // namespace idem::testing::keyed
