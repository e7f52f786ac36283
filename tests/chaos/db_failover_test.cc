// idem-server against a PostgreSQL primary with a synchronous standby, as
// Patroni and CloudNativePG run it, given both hosts in one connection
// string (scripts/pg-local makes and fails over the pair). The server must
// follow each new primary without a restart and never write to a standby,
// and must never acknowledge a commit that only the old primary has.
#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <pqxx/pqxx>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "tests/chaos/command.h"
#include "tests/support/metrics_scrape.h"
#include "tests/support/polling.h"
#include "tests/support/server_process.h"
#include "tests/support/values.h"

namespace idem::chaos {
namespace {

using std::chrono::seconds;

int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  bind(fd, reinterpret_cast<sockaddr*>(&address), length);
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  close(fd);
  return ntohs(address.sin_port);
}

// scripts/pg-local with `args`; its output is in the failure message.
void PgLocal(std::vector<std::string> args) {
  args.insert(args.begin(), std::string(std::getenv("IDEM_SOURCE_DIR")) +
                                "/scripts/pg-local");
  std::string output;
  ASSERT_EQ(RunCommand(args, &output), 0) << output;
}

// The processes of the primary's cluster: its postmaster and every child,
// found through the checkpointer's parent.
std::vector<pid_t> PrimaryProcesses(const std::string& checkpointer) {
  auto parent_of = [](const std::string& pid) -> std::string {
    std::ifstream stat("/proc/" + pid + "/stat");
    std::string line;
    std::getline(stat, line);
    // pid (comm) state ppid ...: the comm may hold spaces, not ')'. A
    // process that ended meanwhile has no line.
    const size_t comm_end = line.rfind(')');
    if (comm_end == std::string::npos) return "";
    std::istringstream rest(line.substr(comm_end + 1));
    std::string state, ppid;
    rest >> state >> ppid;
    return ppid;
  };
  const std::string postmaster = parent_of(checkpointer);
  std::vector<pid_t> processes = {std::stoi(postmaster)};
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string pid = entry.path().filename();
    if (std::isdigit(static_cast<unsigned char>(pid[0])) &&
        parent_of(pid) == postmaster) {
      processes.push_back(std::stoi(pid));
    }
  }
  return processes;
}

// Stops the primary's processes (SIGSTOP): it keeps its connections but
// answers nothing, as on a stalled disk. No query fails and no TCP timeout
// fires. Returns the processes, for Thaw.
std::vector<pid_t> FreezePrimary(const std::string& checkpointer) {
  const std::vector<pid_t> frozen = PrimaryProcesses(checkpointer);
  for (pid_t pid : frozen) kill(pid, SIGSTOP);
  return frozen;
}

void Thaw(const std::vector<pid_t>& frozen) {
  for (pid_t pid : frozen) kill(pid, SIGCONT);
}

class DbFailoverTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    char folder[] = "/tmp/idem-failover-XXXXXX";
    ASSERT_NE(mkdtemp(folder), nullptr);
    folder_ = folder;
    chmod(folder, 0755);  // the clusters' owner (postgres, as root) needs it
    primary_ = folder_ + "/a";
    standby_ = folder_ + "/b";
    const int primary_port = FreePort(), standby_port = FreePort();
    PgLocal({"start", primary_, absl::StrCat(primary_port), "off"});
    PgLocal({"standby", standby_, absl::StrCat(standby_port), primary_});
    // Both hosts, and nothing said about which may be written: the server
    // adds target_session_attrs=read-write itself.
    url_ = new std::string(
        absl::StrCat("host=127.0.0.1,127.0.0.1 port=", primary_port, ",",
                     standby_port, " user=postgres dbname=idem"));
    Sql("CREATE TABLE counters (id bigint PRIMARY KEY, n bigint NOT NULL);"
        "INSERT INTO counters VALUES (1, 0);"
        "CREATE TABLE checked (id bigint PRIMARY KEY, n bigint CHECK (n >= "
        "0))");
    testing::ServerProcess::Options options;
    metrics_port_ = testing::FreeLoopbackPort();
    options.env = {
        {"IDEM_DATABASE_URL", *url_},
        {"IDEM_TABLES", "counters,checked"},
        {"IDEM_ACQUIRE_TIMEOUT", "2s"},
        {"IDEM_METRICS_LISTEN", absl::StrCat("127.0.0.1:", metrics_port_)}};
    server_ = testing::ServerProcess::Start(options).release();
  }

  static void TearDownTestSuite() {
    delete server_;
    for (const std::string& cluster : {primary_, standby_}) {
      std::string ignored;
      RunCommand(
          {std::string(std::getenv("IDEM_SOURCE_DIR")) + "/scripts/pg-local",
           "stop", cluster},
          &ignored);
    }
    std::filesystem::remove_all(folder_);
    delete url_;
  }

  // On the primary, whichever host it is (even while it is read-only).
  static std::string Sql(const std::string& sql) {
    pqxx::connection connection(*url_ + " target_session_attrs=primary");
    pqxx::result result = pqxx::nontransaction(connection).exec(sql);
    return result.empty() || result[0].empty() ? "" : result[0][0].c_str();
  }

  // Stops the primary's processes (FreezePrimary); Thaw them after.
  static std::vector<pid_t> FreezeThePrimary() {
    return FreezePrimary(
        Sql("SELECT pid FROM pg_stat_activity WHERE backend_type = "
            "'checkpointer'"));
  }

  // Counter 1 plus one through `server`, without a key; its deadline
  // `wait` away.
  static grpc::Status PlainIncrement(testing::ServerProcess& server,
                                     seconds wait) {
    const v1::UpdateRequest request = IncrementOf("unused").update();
    v1::UpdateResponse response;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + wait);
    return server.Stub()->Update(&context, request, &response);
  }

  static v1::KeyedCallRequest IncrementOf(const std::string& key) {
    v1::KeyedCallRequest request;
    request.set_idempotency_key(key);
    v1::UpdateRequest& update = *request.mutable_update();
    update.set_table("counters");
    *update.mutable_key() = testing::RowOf({{"id", testing::Int(1)}});
    *update.mutable_increment() = testing::RowOf({{"n", testing::Int(1)}});
    return request;
  }

  static grpc::Status Increment(const std::string& key,
                                v1::KeyedCallResponse* response) {
    const v1::KeyedCallRequest request = IncrementOf(key);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + seconds(10));
    return server_->Stub()->KeyedCall(&context, request, response);
  }

  // Sends the call under `key` until it is answered OK; every other answer
  // on the way must be UNAVAILABLE, which a client retries.
  static v1::KeyedCallResponse EventuallyOk(const std::string& key) {
    v1::KeyedCallResponse response;
    grpc::Status status;
    EXPECT_TRUE(testing::Eventually(
        [&] {
          response.Clear();
          status = Increment(key, &response);
          EXPECT_TRUE(status.ok() ||
                      status.error_code() == grpc::StatusCode::UNAVAILABLE)
              << key << ": " << status.error_code() << " "
              << status.error_message();
          return status.ok();
        },
        seconds(20)))
        << key << ": " << status.error_message();
    return response;
  }

  static std::string Count() { return Sql("SELECT n FROM counters"); }

  // Runs `call` on a thread of its own; once the server's backend waits as
  // `waiting` says (a condition on pg_stat_activity), sends it `signal`
  // (pg_cancel_backend or pg_terminate_backend). Returns when `call` has.
  static void CallAndSignalTheWaiter(const std::function<void()>& call,
                                     const std::string& signal,
                                     const std::string& waiting) {
    std::thread thread(call);
    EXPECT_TRUE(testing::Eventually([&] {
      return Sql("SELECT count(" + signal +
                 "(pid)) FROM pg_stat_activity WHERE application_name = "
                 "'idem-server' AND " +
                 waiting) == "1";
    }));
    thread.join();
  }

  static std::string folder_, primary_, standby_;
  static std::string* url_;
  static testing::ServerProcess* server_;
  static int metrics_port_;
};

std::string DbFailoverTest::folder_, DbFailoverTest::primary_,
    DbFailoverTest::standby_;
std::string* DbFailoverTest::url_ = nullptr;
testing::ServerProcess* DbFailoverTest::server_ = nullptr;
int DbFailoverTest::metrics_port_ = 0;

TEST_F(DbFailoverTest, FollowsThePromotedStandbyAndNeverWritesToAStandby) {
  const int before = std::stoi(Count());
  EventuallyOk("failover-before");

  // The HA manager's part: the primary dies, the standby is promoted, and
  // the old primary comes back as its standby, first in the host list.
  // Meanwhile calls find no primary, or one whose commits wait for a
  // standby: UNAVAILABLE, or a wait.
  PgLocal({"crash", primary_});
  PgLocal({"promote", standby_});
  std::swap(primary_, standby_);
  PgLocal({"rejoin", standby_, primary_});
  EventuallyOk("failover-after-0");
  // New connections (the old ones end here) must pass the standby over.
  Sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
      "application_name = 'idem-server'");
  for (int i = 1; i < 4; ++i) {
    EventuallyOk(absl::StrCat("failover-after-", i));
  }
  EXPECT_EQ(std::stoi(Count()), before + 5);
}

// A restart of the database ends the server's idle sessions, which libpq
// learns only when it next reads. A call must not be sent on one of them:
// a plain increment would fail as if its commit were in doubt
// (COMMIT_UNKNOWN) though nothing was sent, and a read likewise.
TEST_F(DbFailoverTest, SessionsTheDatabaseEndedWhileIdleAreNotLent) {
  EventuallyOk("idle-ended-warm");
  const int before = std::stoi(Count());
  Sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
      "application_name = 'idem-server'");
  ASSERT_TRUE(testing::Eventually(
      [] {
        return Sql("SELECT count(*) FROM pg_stat_activity WHERE "
                   "application_name = 'idem-server'") == "0";
      },
      seconds(10)));
  v1::UpdateRequest increment = IncrementOf("unused").update();
  v1::UpdateResponse updated;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + seconds(10));
  grpc::Status status = server_->Stub()->Update(&context, increment, &updated);
  EXPECT_TRUE(status.ok()) << status.error_code() << " "
                           << status.error_message();
  EXPECT_EQ(std::stoi(Count()), before + 1);
}

// A primary that keeps its connections but stops answering: readiness must
// turn NOT_SERVING within seconds, and SERVING again once it answers; the
// metric idem_database_up says the same to Prometheus (readiness alone is
// also NOT_SERVING while draining, and is not scraped).
TEST_F(DbFailoverTest, ADatabaseThatStopsAnsweringIsNotReady) {
  EventuallyOk("stalled-before");
  auto health = grpc::health::v1::Health::NewStub(server_->Channel());
  auto status = [&] {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + seconds(2));
    grpc::health::v1::HealthCheckResponse response;
    return health->Check(&context, {}, &response).ok()
               ? response.status()
               : grpc::health::v1::HealthCheckResponse::UNKNOWN;
  };
  ASSERT_TRUE(testing::Eventually(
      [&] {
        return status() == grpc::health::v1::HealthCheckResponse::SERVING;
      },
      seconds(10)));
  auto database_up = [&] {
    const std::map<std::string, double> samples =
        testing::Samples(testing::Scrape(metrics_port_));
    auto up = samples.find("idem_database_up");
    return up == samples.end() ? -1.0 : up->second;
  };
  EXPECT_EQ(database_up(), 1.0);
  const std::vector<pid_t> frozen = FreezeThePrimary();
  auto thaw = absl::MakeCleanup([&] { Thaw(frozen); });
  EXPECT_TRUE(testing::Eventually(
      [&] {
        return status() == grpc::health::v1::HealthCheckResponse::NOT_SERVING;
      },
      seconds(10)));
  EXPECT_EQ(database_up(), 0.0);
  // The log says why (no answer within 3 s, or a connect that timed out),
  // not the text of the connection the watchdog ended ("Could not obtain
  // client encoding: not connected.").
  std::istringstream lines(server_->Log());
  int not_serving = 0;
  for (std::string line; std::getline(lines, line);) {
    if (line.find(R"("event":"health")") == std::string::npos ||
        line.find(R"("serving":false)") == std::string::npos) {
      continue;
    }
    ++not_serving;
    EXPECT_NE(line.find(R"("cause":)"), std::string::npos) << line;
    EXPECT_EQ(line.find("client encoding"), std::string::npos) << line;
  }
  EXPECT_GT(not_serving, 0) << server_->Log();
  std::move(thaw).Invoke();
  EXPECT_TRUE(testing::Eventually(
      [&] {
        return status() == grpc::health::v1::HealthCheckResponse::SERVING;
      },
      seconds(30)));
  EXPECT_EQ(database_up(), 1.0);
}

// SIGTERM must end the server soon after its grace even when the database
// stopped answering with a call in flight: then neither the call's
// statement nor the request that cancels it ever returns.
TEST_F(DbFailoverTest, ADatabaseThatStopsAnsweringDoesNotHoldUpShutdown) {
  testing::ServerProcess::Options options;
  options.env = {{"IDEM_DATABASE_URL", *url_},
                 {"IDEM_TABLES", "counters"},
                 {"IDEM_SHUTDOWN_GRACE", "1s"}};
  std::unique_ptr<testing::ServerProcess> server =
      testing::ServerProcess::Start(options);
  auto increment = [&] { return PlainIncrement(*server, seconds(30)); };
  ASSERT_TRUE(
      testing::Eventually([&] { return increment().ok(); }, seconds(20)));
  const std::vector<pid_t> frozen = FreezeThePrimary();
  auto thaw = absl::MakeCleanup([&] { Thaw(frozen); });
  std::thread call(increment);
  absl::SleepFor(absl::Milliseconds(500));  // it waits on the database
  server->Signal(SIGTERM);
  EXPECT_TRUE(
      testing::Eventually([&] { return !server->Running(); }, seconds(20)))
      << server->Log();
  if (server->Running()) server->Signal(SIGKILL);
  EXPECT_NE(server->Log().find("stuck"), std::string::npos) << server->Log();
  // The call cut off this way leaves no request line: the stop line counts
  // it, by tenant.
  EXPECT_NE(server->Log().find(R"("calls_cut":{"default":1})"),
            std::string::npos)
      << server->Log();
  std::move(thaw).Invoke();
  call.join();
}

// A call in flight when the primary stops answering (its processes or disk
// stalled; it keeps its connections and its kernel acknowledges) ends
// within seconds, as on a lost connection, instead of waiting for the
// database for ever: its session is ended once the health probe goes
// unanswered, and after a failover the pool's new sessions reach the new
// primary. The old server's call waited until the database came back.
TEST_F(DbFailoverTest, ACallWaitingOnADatabaseThatStoppedAnsweringEnds) {
  testing::ServerProcess::Options options;
  options.env = {{"IDEM_DATABASE_URL", *url_}, {"IDEM_TABLES", "counters"}};
  std::unique_ptr<testing::ServerProcess> server =
      testing::ServerProcess::Start(options);
  auto increment = [&] { return PlainIncrement(*server, seconds(60)); };
  ASSERT_TRUE(
      testing::Eventually([&] { return increment().ok(); }, seconds(20)));
  const std::vector<pid_t> frozen = FreezeThePrimary();
  auto thaw = absl::MakeCleanup([&] { Thaw(frozen); });
  std::future<grpc::Status> call = std::async(std::launch::async, increment);
  ASSERT_EQ(call.wait_for(std::chrono::seconds(15)), std::future_status::ready)
      << server->Log();
  EXPECT_EQ(call.get().error_code(), grpc::StatusCode::UNAVAILABLE);
  // The operator's to look at: its request line is a warning (README,
  // Logs), not information.
  std::istringstream lines(server->Log());
  int unavailable = 0;
  for (std::string line; std::getline(lines, line);) {
    if (line.find(R"("event":"request")") == std::string::npos ||
        line.find(R"("code":"UNAVAILABLE")") == std::string::npos) {
      continue;
    }
    ++unavailable;
    EXPECT_NE(line.find(R"("level":"warn")"), std::string::npos) << line;
  }
  EXPECT_GT(unavailable, 0) << server->Log();
  std::move(thaw).Invoke();
  EXPECT_TRUE(
      testing::Eventually([&] { return increment().ok(); }, seconds(30)))
      << server->Log();
}

// The same with no call in flight: the server's own background queries
// (the catalog's refresh, the key reaper's pass) are what waits on the
// database then, and the shutdown must neither wait for them before it
// stops taking calls nor end later than its grace allows.
TEST_F(DbFailoverTest, BackgroundQueriesStuckOnTheDatabaseDoNotHoldUpShutdown) {
  testing::ServerProcess::Options options;
  options.env = {{"IDEM_DATABASE_URL", *url_},
                 {"IDEM_TABLES", "counters"},
                 {"IDEM_REAPER_INTERVAL", "100ms"},
                 {"IDEM_SHUTDOWN_GRACE", "1s"}};
  std::unique_ptr<testing::ServerProcess> server =
      testing::ServerProcess::Start(options);
  const std::vector<pid_t> frozen = FreezeThePrimary();
  auto thaw = absl::MakeCleanup([&] { Thaw(frozen); });
  // Past the catalog's refresh interval (2 s): both queries now wait.
  absl::SleepFor(absl::Seconds(3));
  server->Signal(SIGTERM);
  EXPECT_TRUE(
      testing::Eventually([&] { return !server->Running(); }, seconds(15)))
      << server->Log();
  if (server->Running()) server->Signal(SIGKILL);
  EXPECT_NE(server->Log().find("stuck"), std::string::npos) << server->Log();
}

TEST_F(DbFailoverTest, CommitTheStandbyNeverConfirmedIsInDoubtNotAcknowledged) {
  const int before = std::stoi(Count());
  PgLocal({"stop", standby_});
  // The commit waits for the standby until an operator cancels the wait;
  // PostgreSQL then keeps it, on the primary alone.
  v1::KeyedCallResponse response;
  grpc::Status status;
  CallAndSignalTheWaiter([&] { status = Increment("unconfirmed", &response); },
                         "pg_cancel_backend", "wait_event = 'SyncRep'");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE)
      << status.error_message();
  EXPECT_EQ(std::stoi(Count()), before + 1);

  PgLocal({"restart", standby_});
  response = EventuallyOk("unconfirmed");
  EXPECT_TRUE(response.replayed());
  EXPECT_EQ(std::stoi(Count()), before + 1);
}

// A lone plain Insert is one statement that commits by itself (no BEGIN,
// no COMMIT): the standby's silence must reach its answer all the same.
TEST_F(DbFailoverTest, LoneInsertTheStandbyNeverConfirmedIsNotAcknowledged) {
  PgLocal({"stop", standby_});
  v1::InsertRequest request;
  request.set_table("checked");
  *request.add_rows() =
      testing::RowOf({{"id", testing::Int(100)}, {"n", testing::Int(1)}});
  v1::InsertResponse response;
  grpc::Status status;
  CallAndSignalTheWaiter(
      [&] {
        grpc::ClientContext context;
        context.set_deadline(std::chrono::system_clock::now() + seconds(10));
        status = server_->Stub()->Insert(&context, request, &response);
      },
      "pg_cancel_backend", "wait_event = 'SyncRep'");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE)
      << status.error_message();
  // The primary kept it, which a promoted standby would not have.
  EXPECT_EQ(Sql("SELECT count(*) FROM checked WHERE id = 100"), "1");
  PgLocal({"restart", standby_});
}

TEST_F(DbFailoverTest, PrimaryTurnedReadOnlyAnswersUnavailableUntilWritable) {
  const int before = std::stoi(Count());
  EventuallyOk("read-only-before");  // the server's sessions are open
  // A session opened before the reload shows when the backends took it.
  pqxx::connection witness(*url_ + " target_session_attrs=primary");
  const auto exec = [&](const std::string& sql) {
    return pqxx::nontransaction(witness).exec(sql);
  };
  exec("ALTER SYSTEM SET default_transaction_read_only = on");
  exec("SELECT pg_reload_conf()");
  ASSERT_TRUE(testing::Eventually([&] {
    return exec("SHOW default_transaction_read_only")[0][0].as<std::string>() ==
           "on";
  }));
  v1::KeyedCallResponse response;
  for (int i = 0; i < 3; ++i) {
    grpc::Status status = Increment("read-only", &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE)
        << status.error_message();
  }
  exec("SET default_transaction_read_only = off");
  exec("ALTER SYSTEM RESET default_transaction_read_only");
  exec("SELECT pg_reload_conf()");
  EXPECT_FALSE(EventuallyOk("read-only").replayed());
  EXPECT_EQ(std::stoi(Count()), before + 2);
}

TEST_F(DbFailoverTest, BatchWhoseConnectionEndsMidwayIsUnavailable) {
  // A batch of two: an insert the database refuses (CHECK), which sends the
  // batch down the path where each call runs in a savepoint, and an
  // increment of a row the test holds, whose connection then ends.
  v1::BatchRequest request;
  v1::KeyedCallRequest& refused = *request.add_calls()->mutable_keyed_call();
  refused.set_idempotency_key("midway-refused");
  v1::InsertRequest& insert = *refused.mutable_insert();
  insert.set_table("checked");
  *insert.add_rows() =
      testing::RowOf({{"id", testing::Int(1)}, {"n", testing::Int(-1)}});
  *request.add_calls()->mutable_keyed_call() = IncrementOf("midway-increment");

  pqxx::connection holder(*url_ + " target_session_attrs=primary");
  pqxx::work row(holder);
  row.exec("SELECT * FROM counters FOR UPDATE");
  v1::BatchResponse response;
  grpc::Status status;
  CallAndSignalTheWaiter(
      [&] {
        grpc::ClientContext context;
        context.set_deadline(std::chrono::system_clock::now() + seconds(20));
        status = server_->Stub()->Batch(&context, request, &response);
      },
      "pg_terminate_backend", "wait_event_type = 'Lock'");
  row.abort();
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(response.results_size(), 2);
  for (const v1::BatchResult& result : response.results()) {
    EXPECT_EQ(result.code(), grpc::StatusCode::UNAVAILABLE) << result.message();
  }
}

}  // namespace
}  // namespace idem::chaos
