// KeyedCall when things go wrong: a backend terminated mid-call, a key in
// flight, the database stopped.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <future>
#include <pqxx/connection>
#include <pqxx/nontransaction>
#include <pqxx/transaction>
#include <stdexcept>

#include "tests/integration/keyed/keyed_fixture.h"

namespace idem::testing::keyed {
namespace {

// Holds every UPDATE of one counters row inside a trigger until the test
// opens the gate: a call stays in flight (its key claimed, uncommitted) as
// long as the test wants, without a lock wait that lock_timeout would end.
class Gate {
 public:
  Gate(TestDatabase& db, const std::string& table, int64_t id)
      : db_(db), table_(table), name_(TestDatabase::UniqueName("keyed_gate")) {
    db_.Exec("CREATE TABLE " + name_ + " (open boolean NOT NULL)");
    db_.Exec("INSERT INTO " + name_ + " VALUES (false)");
    db_.Exec("CREATE FUNCTION " + name_ +
             "_wait() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
             "WHILE NEW.id = " +
             std::to_string(id) + " AND NOT (SELECT open FROM " + name_ +
             ") LOOP PERFORM pg_sleep(0.01); END LOOP; RETURN NEW; END $$");
    db_.Exec("CREATE TRIGGER " + name_ + " BEFORE UPDATE ON " + table_ +
             " FOR EACH ROW EXECUTE FUNCTION " + name_ + "_wait()");
  }
  ~Gate() {
    Open();
    db_.Exec("DROP TRIGGER " + name_ + " ON " + table_);
    db_.Exec("DROP FUNCTION " + name_ + "_wait()");
    db_.Exec("DROP TABLE " + name_);
  }
  void Open() { db_.Exec("UPDATE " + name_ + " SET open = true"); }

  // The server backend held at the gate, or "".
  std::string HeldBackend() {
    return db_.Scalar(
        "SELECT pid FROM pg_stat_activity WHERE wait_event = 'PgSleep' "
        "AND query LIKE " +
        Quote("%" + table_ + "%") + " LIMIT 1");
  }

 private:
  TestDatabase& db_;
  const std::string table_;
  const std::string name_;
};

// Backends waiting for a lock that `pid` holds.
int64_t WaitingBehind(TestDatabase& db, const std::string& pid) {
  return std::stoll(db.Scalar("SELECT count(*) FROM pg_stat_activity WHERE " +
                              pid + " = ANY(pg_blocking_pids(pid))"));
}

// The table's trigger calls a function that does not exist yet: the
// refusal (VALUE_INVALID, PostgreSQL's "function ... does not exist") is
// the database's state, not the call's, and is not kept under the key,
// so that the call runs once the function is there; as a grant that is
// missing. The old server kept it and replayed it after the fix.
TEST_F(KeyedCallTest, AFailureOnAMissingDatabaseObjectIsNotKept) {
  const int64_t id = 880000 + NewCounter();
  const std::string function = TestDatabase::UniqueName("audit");
  const std::string trigger = TestDatabase::UniqueName("audit_trigger");
  db().Exec("CREATE FUNCTION " + trigger +
            "() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF NEW.id = " +
            std::to_string(id) + " THEN PERFORM " + function +
            "(NEW.id); END IF; RETURN NEW; END $$");
  db().Exec("CREATE TRIGGER " + trigger + " BEFORE INSERT ON " + items() +
            " FOR EACH ROW EXECUTE FUNCTION " + trigger + "()");
  const v1::KeyedCallRequest insert =
      InsertRow(NewKey("missing-function"), items(),
                {{"id", Int(id)}, {"name", Str("audited")}});
  const Answer refused = Call(stub(), insert);
  EXPECT_EQ(refused.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
      << refused.status.error_message();
  EXPECT_EQ(KeyState(insert.idempotency_key()), "");

  db().Exec("CREATE FUNCTION " + function +
            "(bigint) RETURNS void LANGUAGE sql AS 'SELECT'");
  const Answer ran = Call(stub(), insert);
  ExpectExecuted(ran);
  EXPECT_EQ(ItemCount(id), 1);
  db().Exec("DROP TRIGGER " + trigger + " ON " + items());
  db().Exec("DROP FUNCTION " + trigger + "()");
  db().Exec("DROP FUNCTION " + function + "(bigint)");
}

// A long lock_timeout: a second caller waits for the first to finish.
class KeyedTransientTest : public KeyedCallTest {
 public:
  static void SetUpTestSuite() { StartServer({{"IDEM_LOCK_TIMEOUT", "30s"}}); }
};

// The server's backend is terminated while the call's data statement waits
// on a row lock that the test holds: UNAVAILABLE, no key stored; the retry
// runs the call, once.
TEST_F(KeyedTransientTest, TerminatedBackendStoresNothingAndRetryRunsOnce) {
  int64_t id = NewCounter();
  std::string key = NewKey("terminated");
  pqxx::connection locker(DatabaseUrl());
  auto hold = std::make_unique<pqxx::work>(locker);
  hold->exec("SELECT n FROM " + counters() +
             " WHERE id = " + std::to_string(id) + " FOR UPDATE");
  std::string locker_pid = std::to_string(locker.backendpid());

  std::future<Answer> pending = std::async(std::launch::async, [&] {
    return Call(stub(), Increment(key, counters(), id));
  });
  std::string victim;
  ASSERT_TRUE(Eventually([&] {
    victim = db().Scalar("SELECT pid FROM pg_stat_activity WHERE " +
                         locker_pid + " = ANY(pg_blocking_pids(pid))");
    return !victim.empty();
  })) << "the call never reached the locked row";
  EXPECT_EQ(db().Scalar("SELECT pg_terminate_backend(" + victim + ")"), "t");

  Answer lost = pending.get();
  EXPECT_EQ(lost.status.error_code(), grpc::StatusCode::UNAVAILABLE)
      << lost.status.error_message();
  EXPECT_FALSE(lost.marked_replayed());
  EXPECT_EQ(KeyRows(key), 0);
  hold->abort();
  hold.reset();
  EXPECT_EQ(Counter(id), 0);

  Answer retry = CallUntilSettled(stub(), Increment(key, counters(), id));
  ExpectExecuted(retry);
  EXPECT_EQ(Counter(id), 1);
  ExpectReplayOf(Call(stub(), Increment(key, counters(), id)), retry);
  EXPECT_EQ(Counter(id), 1);
}

// A second caller with a key in flight waits for the first and replays.
TEST_F(KeyedTransientTest, SecondCallerWaitsForTheFirstAndReplays) {
  int64_t id = NewCounter();
  std::string key = NewKey("inflight");
  Gate gate(db(), counters(), id);
  std::future<Answer> first = std::async(std::launch::async, [&] {
    return Call(stub(), Increment(key, counters(), id));
  });
  std::string held;
  ASSERT_TRUE(Eventually([&] { return !(held = gate.HeldBackend()).empty(); }));

  std::future<Answer> second = std::async(std::launch::async, [&] {
    return Call(stub(), Increment(key, counters(), id));
  });
  // The second caller's claim waits behind the first's uncommitted one.
  ASSERT_TRUE(Eventually([&] { return WaitingBehind(db(), held) > 0; }));
  gate.Open();

  Answer executed = first.get();
  ExpectExecuted(executed);
  Answer replay = second.get();
  if (replay.status.error_code() == grpc::StatusCode::ABORTED) {
    ExpectAbortedWithPushback(replay);
    replay = Call(stub(), Increment(key, counters(), id));
  }
  ExpectReplayOf(replay, executed);
  EXPECT_EQ(Counter(id), 1);
}

// A short lock_timeout: a second caller is turned away with a retry delay.
class KeyedInFlightTest : public KeyedCallTest {
 public:
  static void SetUpTestSuite() {
    StartServer({{"IDEM_LOCK_TIMEOUT", "300ms"}});
  }
};

TEST_F(KeyedInFlightTest, SecondCallerIsAbortedWithPushbackNeverRunsTwice) {
  int64_t id = NewCounter();
  std::string key = NewKey("inflight");
  Gate gate(db(), counters(), id);
  std::future<Answer> first = std::async(std::launch::async, [&] {
    return Call(stub(), Increment(key, counters(), id));
  });
  ASSERT_TRUE(Eventually([&] { return !gate.HeldBackend().empty(); }));

  for (int i = 0; i < 3; ++i) {
    Answer busy = Call(stub(), Increment(key, counters(), id));
    ExpectAbortedWithPushback(busy);
  }
  // Another call under the key cannot be judged before the first commits:
  // it too is told to come back, and is a mismatch afterwards.
  Answer other = Call(stub(), Increment(key, counters(), id, 7));
  EXPECT_EQ(other.status.error_code(), grpc::StatusCode::ABORTED)
      << other.status.error_message();
  gate.Open();

  Answer executed = first.get();
  ExpectExecuted(executed);
  ExpectReplayOf(CallUntilSettled(stub(), Increment(key, counters(), id)),
                 executed);
  EXPECT_EQ(Call(stub(), Increment(key, counters(), id, 7)).status.error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(Counter(id), 1);
}

// A PostgreSQL cluster of the test's own, so that stopping it disturbs no
// other test.
class PrivateCluster {
 public:
  PrivateCluster() {
    char dir[] = "/tmp/idem-keyed-pg-XXXXXX";
    if (mkdtemp(dir) == nullptr) throw std::runtime_error("mkdtemp");
    dir_ = dir;
    chmod(dir, 0755);  // reachable by the postgres user when run as root
    port_ = FreePort();
    Run("start " + dir_ + " " + std::to_string(port_) + " off");
  }
  ~PrivateCluster() {
    std::system((Script() + " stop " + dir_ + " >/dev/null 2>&1").c_str());
    std::filesystem::remove_all(dir_);
  }
  std::string url() const {
    return "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/idem";
  }
  void Crash() { Run("crash " + dir_); }
  void Restart() { Run("restart " + dir_); }

 private:
  static std::string Script() {
    const char* source = std::getenv("IDEM_SOURCE_DIR");
    if (source == nullptr) throw std::runtime_error("IDEM_SOURCE_DIR unset");
    return std::string(source) + "/scripts/pg-local";
  }
  void Run(const std::string& args) {
    std::string command = Script() + " " + args + " >>" + dir_ + "/pg.log 2>&1";
    if (std::system(command.c_str()) != 0) {
      throw std::runtime_error("failed: " + command);
    }
  }
  static int FreePort() {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    if (bind(fd, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      close(fd);
      throw std::runtime_error("no free port");
    }
    close(fd);
    return ntohs(address.sin_port);
  }

  std::string dir_;
  int port_ = 0;
};

int64_t CounterIn(const std::string& url, int64_t id) {
  pqxx::connection connection(url);
  pqxx::nontransaction txn(connection);
  return txn
      .exec("SELECT n FROM counters WHERE id = " + std::to_string(id))[0][0]
      .as<int64_t>();
}

TEST(KeyedDatabaseDownTest, StoppedDatabaseIsUnavailableThenRetryRunsOnce) {
  PrivateCluster cluster;
  {
    pqxx::connection connection(cluster.url());
    pqxx::nontransaction txn(connection);
    txn.exec(
        "CREATE TABLE counters (id bigint PRIMARY KEY, n bigint NOT NULL "
        "DEFAULT 0); INSERT INTO counters (id) VALUES (1)");
  }
  std::unique_ptr<ServerProcess> server =
      ServerProcess::Start({.env = {{"IDEM_DATABASE_URL", cluster.url()},
                                    {"IDEM_TABLES", "counters"},
                                    {"IDEM_ACQUIRE_TIMEOUT", "2s"}},
                            .args = {}});
  std::unique_ptr<v1::IdemService::Stub> stub = server->Stub();
  std::string key = TestDatabase::UniqueName("down");
  ExpectExecuted(
      Call(*stub, Increment(TestDatabase::UniqueName("warm"), "counters", 1)));
  ASSERT_EQ(CounterIn(cluster.url(), 1), 1);

  cluster.Crash();
  for (int i = 0; i < 2; ++i) {
    Answer down = Call(*stub, Increment(key, "counters", 1));
    EXPECT_EQ(down.status.error_code(), grpc::StatusCode::UNAVAILABLE)
        << down.status.error_message();
  }
  cluster.Restart();

  Answer retry = CallUntilSettled(*stub, Increment(key, "counters", 1));
  ExpectExecuted(retry);
  EXPECT_EQ(CounterIn(cluster.url(), 1), 2);
  ExpectReplayOf(Call(*stub, Increment(key, "counters", 1)), retry);
  EXPECT_EQ(CounterIn(cluster.url(), 1), 2);
  EXPECT_TRUE(server->Running());
}

}  // namespace
}  // namespace idem::testing::keyed
