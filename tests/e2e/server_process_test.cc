// End-to-end: the idem-server process as an operator meets it. Health and
// reflection on a running server, `idem-server migrate` (also twice at
// once), refusal of bad configuration, and a SIGTERM drain that lets calls
// in flight finish.
#include "tests/support/server_process.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "tests/support/polling.h"
#include "tests/support/rich_status.h"
#include "tests/support/test_database.h"
#include "tests/support/values.h"

namespace idem::testing {
namespace {

using grpc::health::v1::Health;
using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;
using std::chrono::seconds;

grpc::Status CheckHealth(const std::shared_ptr<grpc::Channel>& channel,
                         HealthCheckResponse* response) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + seconds(2));
  return Health::NewStub(channel)->Check(&context, HealthCheckRequest(),
                                         response);
}

TEST(HealthTest, ServingWhileTheDatabaseAnswers) {
  auto server = ServerProcess::Start({});
  std::shared_ptr<grpc::Channel> channel = server->Channel();
  HealthCheckResponse response;
  EXPECT_TRUE(Eventually([&] {
    return CheckHealth(channel, &response).ok() &&
           response.status() == HealthCheckResponse::SERVING;
  })) << server->Log();
}

TEST(ReflectionTest, ListsTheIdemService) {
  auto server = ServerProcess::Start({});
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + seconds(30));
  auto stub =
      grpc::reflection::v1alpha::ServerReflection::NewStub(server->Channel());
  auto stream = stub->ServerReflectionInfo(&context);
  grpc::reflection::v1alpha::ServerReflectionRequest request;
  request.set_list_services("");
  ASSERT_TRUE(stream->Write(request));
  stream->WritesDone();
  grpc::reflection::v1alpha::ServerReflectionResponse response;
  ASSERT_TRUE(stream->Read(&response));
  std::vector<std::string> services;
  for (const auto& service : response.list_services_response().service()) {
    services.push_back(service.name());
  }
  EXPECT_NE(std::find(services.begin(), services.end(), "idem.v1.IdemService"),
            services.end());
  EXPECT_NE(
      std::find(services.begin(), services.end(), "grpc.health.v1.Health"),
      services.end());
  while (stream->Read(&response)) {
  }
  EXPECT_TRUE(stream->Finish().ok());
}

// A database of its own, dropped afterwards, for migrations from nothing.
class FreshDatabase {
 public:
  FreshDatabase() : name_(TestDatabase::UniqueName("migrate")) {
    admin_.Exec("CREATE DATABASE " + name_);
  }
  ~FreshDatabase() { admin_.Exec("DROP DATABASE " + name_ + " WITH (FORCE)"); }

  std::string Url() const {
    std::string url = DatabaseUrl();
    return url.substr(0, url.rfind('/') + 1) + name_;
  }

  std::string Scalar(const std::string& sql) const {
    pqxx::connection connection(Url());
    pqxx::nontransaction txn(connection);
    return txn.exec(sql)[0][0].c_str();
  }

 private:
  TestDatabase admin_;
  std::string name_;
};

// The database ends the health probe's idle session (an operator's
// pg_terminate_backend, a pooler's restart, an idle timeout): that says
// nothing about the database, and readiness must not blink, since every
// replica's probe may be ended at once and the probes allow no failure.
TEST(HealthTest, AProbeSessionTheDatabaseEndedDoesNotTurnNotServing) {
  FreshDatabase database;
  ServerProcess::Options options;
  options.env = {{"IDEM_DATABASE_URL", database.Url()}};
  auto server = ServerProcess::Start(options);
  std::shared_ptr<grpc::Channel> channel = server->Channel();
  auto serving = [&] {
    HealthCheckResponse response;
    return CheckHealth(channel, &response).ok() &&
           response.status() == HealthCheckResponse::SERVING;
  };
  ASSERT_TRUE(Eventually(serving)) << server->Log();
  // The probe's session: the one that last read the database's clock.
  const std::string probes =
      "FROM pg_stat_activity WHERE datname = current_database() AND pid <> "
      "pg_backend_pid() AND query LIKE '%extract(epoch FROM "
      "clock_timestamp())%'";
  for (int round = 0; round < 3; ++round) {
    SCOPED_TRACE(round);
    ASSERT_TRUE(Eventually(
        [&] { return database.Scalar("SELECT count(*) " + probes) == "1"; }));
    // Named, so that an operator can tell it from the pool's sessions.
    EXPECT_EQ(database.Scalar("SELECT max(application_name) " + probes),
              "idem-server-health");
    database.Scalar("SELECT count(pg_terminate_backend(pid)) " + probes);
    const auto until =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(2500);
    while (std::chrono::steady_clock::now() < until) {
      ASSERT_TRUE(serving()) << server->Log();
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
}

TEST(MigrateTest, AppliesAndExitsZero) {
  std::string log;
  EXPECT_EQ(RunServerCommand({}, {"migrate"}, &log), 0) << log;
  // Applying again is a no-op.
  EXPECT_EQ(RunServerCommand({}, {"migrate"}, &log), 0) << log;
}

TEST(MigrateTest, TwoAtOnceOnAFreshDatabaseApplyEachVersionOnce) {
  for (int round = 0; round < 3; ++round) {
    SCOPED_TRACE(round);
    FreshDatabase database;
    std::string logs[2];
    int codes[2];
    std::thread runners[2];
    for (int i = 0; i < 2; ++i) {
      runners[i] = std::thread([&, i] {
        codes[i] = RunServerCommand({{"IDEM_DATABASE_URL", database.Url()}},
                                    {"migrate"}, &logs[i]);
      });
    }
    for (std::thread& runner : runners) runner.join();
    EXPECT_EQ(codes[0], 0) << logs[0];
    EXPECT_EQ(codes[1], 0) << logs[1];
    // Versions 1..n, each once.
    EXPECT_EQ(database.Scalar("SELECT count(*) = count(DISTINCT version) AND "
                              "count(*) = max(version) AND count(*) > 0 "
                              "FROM idem.schema_migrations"),
              "t");
  }
}

// A schema newer than the binary (a rollback after a newer release
// migrated) is served, with a warning that says so: it started silently.
TEST(MigrateTest, ASchemaNewerThanTheBinaryIsNamed) {
  FreshDatabase database;
  std::string log;
  ASSERT_EQ(RunServerCommand({{"IDEM_DATABASE_URL", database.Url()}},
                             {"migrate"}, &log),
            0)
      << log;
  database.Scalar(
      "INSERT INTO idem.schema_migrations (version, name) SELECT max(version) "
      "+ 1, 'from a newer release' FROM idem.schema_migrations RETURNING 1");
  EXPECT_EQ(RunServerCommand({{"IDEM_DATABASE_URL", database.Url()}},
                             {"migrate"}, &log),
            0)
      << log;
  EXPECT_NE(log.find(R"("event":"schema_newer")"), std::string::npos) << log;
}

// One replica migrates while another starts: the second waits for the
// first however long its migrations take, not IDEM_LOCK_TIMEOUT (a
// Kubernetes Job would otherwise fail while the first is still at work).
TEST(MigrateTest, WaitsForAnotherMigratorPastTheLockTimeout) {
  FreshDatabase database;
  pqxx::connection other(database.Url());
  pqxx::work migrating(other);
  migrating.exec("SELECT pg_advisory_xact_lock(x'6964656d'::bigint)");
  std::thread finish([&] {
    std::this_thread::sleep_for(std::chrono::seconds(2));
    migrating.commit();
  });
  std::string log;
  const int code = RunServerCommand({{"IDEM_DATABASE_URL", database.Url()},
                                     {"IDEM_LOCK_TIMEOUT", "500ms"},
                                     {"IDEM_STATEMENT_TIMEOUT", "500ms"}},
                                    {"migrate"}, &log);
  finish.join();
  EXPECT_EQ(code, 0) << log;
}

// SIGTERM while the server waits for another replica's migration (or for
// its database) ends it at once: nothing is served yet, so nothing drains,
// and a pod stopped then must not wait out its grace period. The old
// server waited for the lock and never saw the signal.
TEST(StartupTest, ASignalBeforeServingEndsTheStartAtOnce) {
  FreshDatabase database;
  pqxx::connection other(database.Url());
  pqxx::work migrating(other);
  migrating.exec("SELECT pg_advisory_xact_lock(x'6964656d'::bigint)");
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{}, std::vector<std::string>{"migrate"}}) {
    SCOPED_TRACE(args.empty() ? "serve" : args[0]);
    std::thread signaller;
    std::string log;
    const auto start = std::chrono::steady_clock::now();
    const int code = RunServerCommand(
        {{"IDEM_DATABASE_URL", database.Url()}}, args, &log, [&](pid_t pid) {
          signaller = std::thread([pid] {
            std::this_thread::sleep_for(std::chrono::seconds(1));
            kill(pid, SIGTERM);
          });
        });
    signaller.join();
    // A migrate Job stopped before it migrated must not read as done.
    EXPECT_EQ(code, args.empty() ? 0 : 1) << log;
    EXPECT_LT(std::chrono::steady_clock::now() - start,
              std::chrono::seconds(30))
        << log;
    EXPECT_NE(log.find("stopped before serving"), std::string::npos) << log;
  }
}

// SIGHUP, unhandled, ended the server at once (129): no drain, calls cut.
// It is ignored, with a line that says what to send instead.
TEST(SignalTest, SighupIsIgnored) {
  auto server = ServerProcess::Start({});
  server->Signal(SIGHUP);
  ASSERT_TRUE(Eventually([&] {
    return server->Log().find("SIGHUP ignored") != std::string::npos ||
           !server->Running();
  })) << server->Log();
  EXPECT_TRUE(server->Running()) << server->Log();
  HealthCheckResponse response;
  EXPECT_TRUE(CheckHealth(server->Channel(), &response).ok());
  server->Signal(SIGTERM);
  EXPECT_EQ(server->Wait(), 0) << server->Log();
}

// --help lists every setting (README's promise), not "No flags matched".
TEST(HelpTest, ListsEverySetting) {
  std::string log;
  RunServerCommand({}, {"--help"}, &log);
  for (const char* flag :
       {"--listen", "--database_url", "--tables", "--storage_root",
        "--pool_size", "--tls_cert", "--auth_tokens", "--max_key_retention"}) {
    EXPECT_NE(log.find(flag), std::string::npos) << flag << "\n" << log;
  }
}

// A database the server cannot use stops the start with libpq's reason in
// the log, which the operator needs: not only "connection lost".
TEST(StartupTest, ADatabaseItCannotUseIsNamedWithTheCause) {
  std::string url = DatabaseUrl();
  ASSERT_NE(url.find("postgres@"), std::string::npos) << url;
  url.replace(url.find("postgres@"), 9, "nosuchrole@");
  std::string log;
  EXPECT_EQ(RunServerCommand({{"IDEM_DATABASE_URL", url}}, {}, &log), 1);
  EXPECT_NE(log.find("role \\\"nosuchrole\\\" does not exist"),
            std::string::npos)
      << log;
}

// A misspelled setting was ignored without a word: IDEM_TABLE for
// IDEM_TABLES left every call PERMISSION_DENIED. The server names it, with
// the setting it most likely meant. Kubernetes' service links (a Service
// named "idem" puts IDEM_SERVICE_HOST, IDEM_PORT_50051_TCP, ... into every
// pod of its namespace) are not settings and draw no warning.
TEST(StartupTest, AnUnknownSettingIsNamedWithTheOneItLikelyMeant) {
  ServerProcess::Options options;
  options.env = {{"IDEM_TABLE", "orders"},
                 {"IDEM_LOCKTIMEOUT", "2s"},
                 {"IDEM_SERVICE_HOST", "10.0.0.1"},
                 {"IDEM_SERVICE_PORT_GRPC", "50051"},
                 {"IDEM_PORT", "tcp://10.0.0.1:50051"},
                 // Named like a link's variable, but no link has this value.
                 {"IDEM_LISTEN_PORT", "50051"},
                 {"IDEM_PORT_50051_TCP_ADDR", "10.0.0.1"},
                 {"IDEM_METRICS_SERVICE_HOST", "10.0.0.2"}};
  auto server = ServerProcess::Start(options);
  const std::string log = server->Log();
  for (const char* expected :
       {R"("did_you_mean":"IDEM_TABLES","event":"unknown_setting")",
        R"("name":"IDEM_TABLE")",
        R"("did_you_mean":"IDEM_LOCK_TIMEOUT","event":"unknown_setting")",
        R"("name":"IDEM_LOCKTIMEOUT")", R"("name":"IDEM_LISTEN_PORT")"}) {
    EXPECT_NE(log.find(expected), std::string::npos) << expected << "\n" << log;
  }
  for (const char* link : {"IDEM_SERVICE", "IDEM_PORT", "IDEM_METRICS"}) {
    EXPECT_EQ(log.find(link), std::string::npos) << link << "\n" << log;
  }
}

// Allow-listed tables that calls cannot use are named at start, not first
// at a call: one absent (here a list separated by a semicolon, one name to
// the server), one without a primary key.
TEST(StartupTest, UnusableAllowListedTablesAreNamed) {
  TestDatabase db;
  const std::string keyless = TestDatabase::UniqueName("keyless");
  db.Exec("CREATE TABLE " + keyless + " (n bigint)");
  ServerProcess::Options options;
  options.env = {{"IDEM_TABLES", "orders;counters," + keyless}};
  auto server = ServerProcess::Start(options);
  const std::string log = server->Log();
  EXPECT_NE(log.find(R"("absent":["orders;counters"])"), std::string::npos)
      << log;
  EXPECT_NE(log.find(R"("without_primary_key":[")" + keyless + "\"]"),
            std::string::npos)
      << log;
  db.Exec("DROP TABLE " + keyless);
}

// An allow-list of thousands of tables (absent ones here) does not make
// log lines of hundreds of kilobytes, which log pipelines cut or drop: the
// start lines name the first tables and count the rest.
TEST(StartupTest, AThousandTablesMakeShortStartLines) {
  std::vector<std::string> tables;
  for (int i = 0; i < 1000; ++i) {
    tables.push_back(absl::StrCat("no_such_table_number_", i));
  }
  ServerProcess::Options options;
  options.env = {{"IDEM_TABLES", absl::StrJoin(tables, ",")}};
  auto server = ServerProcess::Start(options);
  std::istringstream lines(server->Log());
  int naming = 0;
  for (std::string line; std::getline(lines, line);) {
    EXPECT_LT(line.size(), 4096u) << line.substr(0, 300);
    if (line.find("no_such_table_number_0\"") != std::string::npos) {
      ++naming;
      EXPECT_NE(line.find("(980 more)"), std::string::npos)
          << line.substr(0, 300);
    }
  }
  EXPECT_EQ(naming, 2) << "the listening and tables lines";
}

struct BadConfig {
  std::string name;
  std::map<std::string, std::string> env;
  std::vector<std::string> args;
  // Part of the message the operator must see.
  std::string says;
};

std::ostream& operator<<(std::ostream& out, const BadConfig& config) {
  return out << config.name;
}

class BadConfigTest : public ::testing::TestWithParam<BadConfig> {};

TEST_P(BadConfigTest, ExitsNonZeroWithAClearMessage) {
  std::string log;
  int code = RunServerCommand(GetParam().env, GetParam().args, &log);
  EXPECT_NE(code, 0) << log;
  EXPECT_LT(code, 128) << "killed by a signal, not a clean refusal: " << log;
  EXPECT_NE(log.find(GetParam().says), std::string::npos) << log;
  EXPECT_EQ(log.find("\"listening\""), std::string::npos) << log;
  // One JSON object per line, as README promises: a log pipeline drops the
  // rest, and with it the reason.
  std::istringstream lines(log);
  for (std::string line; std::getline(lines, line);) {
    EXPECT_TRUE(nlohmann::json::parse(line, nullptr, false).is_object())
        << line;
  }
}

// A second server on a port one already listens on must fail, not share
// the port (SO_REUSEPORT) and quietly take half of the first one's calls.
// gRPC's own complaints (here about the port) come as JSON lines too: README
// promises one JSON object per line, and a log pipeline drops the rest.
TEST(ListenTest, APortInUseIsRefused) {
  auto first = ServerProcess::Start({});
  std::string log;
  int code = RunServerCommand({{"IDEM_LISTEN", first->address()}}, {}, &log);
  EXPECT_NE(code, 0) << log;
  EXPECT_NE(log.find("cannot listen on " + first->address()), std::string::npos)
      << log;
  EXPECT_TRUE(first->Running());
  std::istringstream lines(log);
  bool from_grpc = false;
  for (std::string line; std::getline(lines, line);) {
    const nlohmann::json parsed = nlohmann::json::parse(line, nullptr, false);
    ASSERT_TRUE(parsed.is_object()) << line;
    from_grpc = from_grpc || parsed.value("event", "") == "grpc";
  }
  EXPECT_TRUE(from_grpc) << log;
}

const char kUnreachable[] =
    "postgresql://postgres@127.0.0.1:1/idem?connect_timeout=5";

INSTANTIATE_TEST_SUITE_P(
    Settings, BadConfigTest,
    ::testing::Values(
        BadConfig{"UnparsableRetention",
                  {{"IDEM_KEY_RETENTION", "abc"}},
                  {},
                  "IDEM_KEY_RETENTION"},
        // What a value is written as, with the refusal.
        BadConfig{"RetentionInDays",
                  {{"IDEM_KEY_RETENTION", "1d"}},
                  {},
                  "e.g. 500ms, 90s, 5m, 24h"},
        BadConfig{"WorkersAsAFraction",
                  {{"IDEM_WORKERS", "4.5"}},
                  {},
                  "expected a whole number\""},
        BadConfig{"BytesWithAUnit",
                  {{"IDEM_MAX_MESSAGE_BYTES", "16MiB"}},
                  {},
                  "not 16MiB"},
        BadConfig{"BooleanInWords",
                  {{"IDEM_ALLOW_PLAINTEXT", "sure"}},
                  {},
                  "true or false"},
        BadConfig{"NoTlsAndNoPlaintext",
                  {{"IDEM_ALLOW_PLAINTEXT", "false"}},
                  {},
                  "IDEM_ALLOW_PLAINTEXT"},
        BadConfig{"UnreachableDatabase",
                  {{"IDEM_DATABASE_URL", kUnreachable}},
                  {},
                  "database"},
        BadConfig{"MigrateUnreachableDatabase",
                  {{"IDEM_DATABASE_URL", kUnreachable}},
                  {"migrate"},
                  "migrations"},
        BadConfig{"UnparsableDatabaseUrl",
                  {{"IDEM_DATABASE_URL", "host=db nonsense"}},
                  {},
                  "IDEM_DATABASE_URL"},
        BadConfig{"SubSecondDbTcpTimeout",
                  {{"IDEM_DB_TCP_TIMEOUT", "500ms"}},
                  {},
                  "IDEM_DB_TCP_TIMEOUT"},
        BadConfig{"NegativePoolSize",
                  {{"IDEM_POOL_SIZE", "-1"}},
                  {},
                  "IDEM_POOL_SIZE"},
        BadConfig{"OneBatchThread",
                  {{"IDEM_BATCH_THREADS", "1"}},
                  {},
                  "IDEM_BATCH_THREADS"},
        BadConfig{"ZeroCallsPerBatch",
                  {{"IDEM_BATCH_MAX_CALLS", "0"}},
                  {},
                  "IDEM_BATCH_MAX_CALLS"},
        BadConfig{"NegativeReplayCache",
                  {{"IDEM_REPLAY_CACHE_BYTES", "-1"}},
                  {},
                  "IDEM_REPLAY_CACHE_BYTES"},
        BadConfig{"RetentionShorterThanTheCopyLease",
                  {{"IDEM_KEY_RETENTION", "10s"}, {"IDEM_COPY_LEASE", "20s"}},
                  {},
                  "IDEM_COPY_LEASE"},
        BadConfig{"UnknownRequestLog",
                  {{"IDEM_REQUEST_LOG", "some"}},
                  {},
                  "IDEM_REQUEST_LOG"},
        // On the command line, the same words as for a variable (abseil
        // printed text of its own and exited 1).
        BadConfig{"FlagThatDoesNotParse",
                  {},
                  {"--workers=abc"},
                  "--workers (IDEM_WORKERS): "},
        BadConfig{
            "MisspeltFlag", {}, {"--wrokers=4"}, "did you mean --workers?"},
        BadConfig{"FlagWithoutItsValue",
                  {},
                  {"--lock_timeout"},
                  "--lock_timeout (IDEM_LOCK_TIMEOUT): needs a value"},
        // gRPC took it and failed only at bind, with its own words.
        BadConfig{"ListenWithoutAHost",
                  {{"IDEM_LISTEN", ":55651"}},
                  {},
                  "IDEM_LISTEN): needs a host"},
        // The metrics listener binds first; gRPC's refusal then blamed
        // IDEM_LISTEN.
        BadConfig{"MetricsOnTheGrpcPort",
                  {{"IDEM_LISTEN", "127.0.0.1:55652"},
                   {"IDEM_METRICS_LISTEN", "0.0.0.0:55652"}},
                  {},
                  "IDEM_METRICS_LISTEN): uses the port of IDEM_LISTEN"},
        BadConfig{"CertificateWithoutKey",
                  {{"IDEM_TLS_CERT", "/nonexistent"}},
                  {},
                  "--tls_key"},
        // The hint for a misspelt setting comes with the refusal it explains.
        BadConfig{"MisspeltSettingBehindARefusal",
                  {{"IDEM_ALLOW_PLAINTEXT", "false"},
                   {"IDEM_ALLOW_PLAINTXT", "true"}},
                  {},
                  R"("did_you_mean":"IDEM_ALLOW_PLAINTEXT")"},
        // Addresses no host has, refused at once and by the setting's name
        // (the metrics listener bound 231.9.9.9 for 999.9.9.9).
        BadConfig{"ListenOnNoAddress",
                  {{"IDEM_LISTEN", "999.1.1.1:50051"}},
                  {},
                  "IDEM_LISTEN"},
        BadConfig{"ListenWithATrailingSpace",
                  {{"IDEM_LISTEN", "127.0.0.1:0 "}},
                  {},
                  "IDEM_LISTEN"},
        BadConfig{"MetricsOnNoAddress",
                  {{"IDEM_METRICS_LISTEN", "999.9.9.9:0"}},
                  {},
                  "IDEM_METRICS_LISTEN"},
        // A time PostgreSQL's timestamps and protobuf's Duration can hold.
        BadConfig{"EndlessTombstones",
                  {{"IDEM_TOMBSTONE_RETENTION", "inf"}},
                  {},
                  "IDEM_TOMBSTONE_RETENTION"},
        BadConfig{
            "EndlessRetention",
            {{"IDEM_KEY_RETENTION", "inf"}, {"IDEM_MAX_KEY_RETENTION", "inf"}},
            {},
            "IDEM_MAX_KEY_RETENTION"},
        BadConfig{"ZeroMaxConnectionAge",
                  {{"IDEM_MAX_CONNECTION_AGE", "0s"}},
                  {},
                  "IDEM_MAX_CONNECTION_AGE"},
        // Past 2^31 ms: gRPC's int channel argument would overflow.
        BadConfig{"MaxConnectionAgeOfAMonth",
                  {{"IDEM_MAX_CONNECTION_AGE", "720h"}},
                  {},
                  "IDEM_MAX_CONNECTION_AGE"},
        BadConfig{"TinyTransportQuota",
                  {{"IDEM_MAX_TRANSPORT_BYTES", "1000"}},
                  {},
                  "IDEM_MAX_TRANSPORT_BYTES"},
        BadConfig{"ZeroKeepaliveTimeout",
                  {{"IDEM_KEEPALIVE_TIMEOUT", "0s"}},
                  {},
                  "IDEM_KEEPALIVE_TIMEOUT"},
        BadConfig{"ZeroReaperInterval",
                  {{"IDEM_REAPER_INTERVAL", "0s"}},
                  {},
                  "IDEM_REAPER_INTERVAL"},
        BadConfig{
            "ZeroMaxQueued", {{"IDEM_MAX_QUEUED", "0"}}, {}, "IDEM_MAX_QUEUED"},
        BadConfig{"NegativeShutdownGrace",
                  {{"IDEM_SHUTDOWN_GRACE", "-1s"}},
                  {},
                  "IDEM_SHUTDOWN_GRACE"},
        BadConfig{"NegativeLockTimeout",
                  {{"IDEM_LOCK_TIMEOUT", "-1s"}},
                  {},
                  "IDEM_LOCK_TIMEOUT"},
        BadConfig{"ZeroStatementTimeout",
                  {{"IDEM_STATEMENT_TIMEOUT", "0s"}},
                  {},
                  "IDEM_STATEMENT_TIMEOUT"},
        BadConfig{"ListenPortOutOfRange",
                  {{"IDEM_LISTEN", "127.0.0.1:99999"}},
                  {},
                  "IDEM_LISTEN"},
        BadConfig{"UnknownCommand", {}, {"frobnicate"}, "frobnicate"}),
    [](const ::testing::TestParamInfo<BadConfig>& info) {
      return info.param.name;
    });

// An Update adding `delta` to n of row `id` of a counters table.
v1::UpdateRequest IncrementOf(const std::string& table, int64_t id,
                              int64_t delta) {
  v1::UpdateRequest request;
  request.set_table(table);
  (*request.mutable_key()->mutable_columns())["id"].set_int_value(id);
  (*request.mutable_increment()->mutable_columns())["n"].set_int_value(delta);
  return request;
}

TEST(DrainTest, SigtermLetsCallsInFlightFinishAndExitsZero) {
  constexpr int kCalls = 4;
  TestDatabase db;
  const std::string table = db.CreateCounters("drain", "(1, 0)");
  ServerProcess::Options options;
  options.env = {{"IDEM_TABLES", table},
                 {"IDEM_LOCK_TIMEOUT", "120s"},
                 {"IDEM_SHUTDOWN_GRACE", "120s"}};
  auto server = ServerProcess::Start(options);

  // Hold the row, so that every Update waits inside the server.
  pqxx::connection holder(DatabaseUrl());
  pqxx::work lock(holder);
  lock.exec("SELECT * FROM " + table + " WHERE id = 1 FOR UPDATE");

  const v1::UpdateRequest request = IncrementOf(table, 1, 1);
  grpc::Status statuses[kCalls];
  v1::UpdateResponse responses[kCalls];
  std::vector<std::thread> calls;
  for (int i = 0; i < kCalls; ++i) {
    calls.emplace_back([&, i] {
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + seconds(120));
      statuses[i] = server->Stub()->Update(&context, request, &responses[i]);
    });
  }
  ASSERT_TRUE(Eventually([&] { return db.LockWaiters(table) == kCalls; }))
      << server->Log();

  server->Signal(SIGTERM);
  // Stopped accepting: a new connection is refused.
  EXPECT_TRUE(Eventually([&] {
    HealthCheckResponse response;
    return !CheckHealth(grpc::CreateChannel(server->address(),
                                            grpc::InsecureChannelCredentials()),
                        &response)
                .ok();
  })) << server->Log();
  EXPECT_TRUE(server->Running());

  lock.commit();
  for (std::thread& call : calls) call.join();
  for (int i = 0; i < kCalls; ++i) {
    EXPECT_TRUE(statuses[i].ok()) << statuses[i].error_message();
    EXPECT_EQ(responses[i].outcome(), v1::UPDATE_OUTCOME_UPDATED);
  }
  EXPECT_EQ(server->Wait(), 0) << server->Log();
  EXPECT_EQ(db.Scalar("SELECT n FROM " + table), std::to_string(kCalls));
}

// Calls still running when the grace runs out are answered UNAVAILABLE,
// SHUTTING_DOWN (with its ErrorInfo, as every refusal, so that a client
// tells it from a dropped connection); what they were doing must then roll
// back, not commit once the row lock they wait for goes: a caller told
// UNAVAILABLE who sends a plain increment again would otherwise count it
// twice. The server exits at the end of the grace, not when the lock goes.
TEST(DrainTest, CallsTheGraceCutOffRollBackAndDoNotApplyLater) {
  TestDatabase db;
  const std::string table = db.CreateCounters("cutoff", "(1, 0)");
  ServerProcess::Options options;
  options.env = {{"IDEM_TABLES", table},
                 {"IDEM_LOCK_TIMEOUT", "120s"},
                 {"IDEM_DRAIN_DELAY", "0s"},
                 {"IDEM_SHUTDOWN_GRACE", "1s"}};
  auto server = ServerProcess::Start(options);
  pqxx::connection holder(DatabaseUrl());
  pqxx::work lock(holder);
  lock.exec("SELECT * FROM " + table + " WHERE id = 1 FOR UPDATE");

  v1::KeyedCallRequest keyed;
  keyed.set_idempotency_key(TestDatabase::UniqueName("cutoff"));
  *keyed.mutable_update() = IncrementOf(table, 1, 10);
  grpc::Status plain_status, keyed_status;
  std::thread plain([&] {
    grpc::ClientContext context;
    v1::UpdateResponse response;
    plain_status =
        server->Stub()->Update(&context, IncrementOf(table, 1, 1), &response);
  });
  std::thread keyed_call([&] {
    grpc::ClientContext context;
    v1::KeyedCallResponse response;
    keyed_status = server->Stub()->KeyedCall(&context, keyed, &response);
  });
  ASSERT_TRUE(Eventually([&] { return db.LockWaiters(table) == 2; }))
      << server->Log();
  server->Signal(SIGTERM);
  plain.join();
  keyed_call.join();
  ExpectRefusal(plain_status, "SHUTTING_DOWN");
  ExpectRefusal(keyed_status, "SHUTTING_DOWN");
  EXPECT_TRUE(Eventually([&] { return !server->Running(); }, seconds(15)))
      << server->Log();
  lock.commit();
  EXPECT_EQ(server->Wait(), 0) << server->Log();
  absl::SleepFor(absl::Milliseconds(500));  // whatever was left, committed
  EXPECT_EQ(db.Scalar("SELECT n FROM " + table), "0");
}

// A call that waited for a worker while its caller gave up (here its
// deadline passed; at shutdown, the grace ran out) is not run afterwards:
// its caller was answered, and an increment applied after that answer would
// be one the caller counts as failed.
TEST(QueuedCallTest, ACallWhoseCallerGaveUpIsNotRunLater) {
  TestDatabase db;
  const std::string table = db.CreateCounters("queued", "(1, 0), (2, 0)");
  ServerProcess::Options options;
  options.env = {{"IDEM_TABLES", table},
                 {"IDEM_WORKERS", "1"},
                 {"IDEM_LOCK_TIMEOUT", "60s"}};
  auto server = ServerProcess::Start(options);
  auto increment = [&](int id, int delta, absl::Duration deadline) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
    v1::UpdateResponse response;
    return server->Stub()->Update(&context, IncrementOf(table, id, delta),
                                  &response);
  };

  // The only worker waits for row 1.
  pqxx::connection holder(DatabaseUrl());
  pqxx::work lock(holder);
  lock.exec("SELECT * FROM " + table + " WHERE id = 1 FOR UPDATE");
  grpc::Status blocked;
  std::thread first([&] { blocked = increment(1, 1, absl::Seconds(60)); });
  ASSERT_TRUE(Eventually([&] { return db.LockWaiters(table) == 1; }))
      << server->Log();

  // Queued behind it until its caller gives up.
  EXPECT_EQ(increment(2, 1, absl::Milliseconds(300)).error_code(),
            grpc::StatusCode::DEADLINE_EXCEEDED);
  // The server's copy of the deadline is later by the request's transit.
  absl::SleepFor(absl::Seconds(1));
  lock.commit();
  first.join();
  EXPECT_TRUE(blocked.ok()) << blocked.error_message();
  // The worker takes its queue in order: once this call is answered, the
  // abandoned one has had its turn.
  grpc::Status after = increment(2, 10, absl::Seconds(60));
  EXPECT_TRUE(after.ok()) << after.error_message();
  EXPECT_EQ(db.Scalar("SELECT n FROM " + table + " WHERE id = 2"), "10");
}

// The same for a write queued for the group committer (a KeyedCall, a
// plain Insert: they never wait for a worker): here the tenant's only batch
// (two committer threads allow one batch per tenant) waits for row 1, and a
// keyed increment of row 2 whose caller gave up meanwhile is not committed
// when the committer comes to it.
TEST(QueuedCallTest, AWriteWhoseCallerGaveUpIsNotCommittedLater) {
  TestDatabase db;
  const std::string table = db.CreateCounters("queued_write", "(1, 0), (2, 0)");
  ServerProcess::Options options;
  options.env = {{"IDEM_TABLES", table},
                 {"IDEM_BATCH_THREADS", "2"},
                 {"IDEM_LOCK_TIMEOUT", "60s"}};
  auto server = ServerProcess::Start(options);
  auto keyed_increment = [&](const std::string& key, int id, int delta,
                             absl::Duration deadline) {
    v1::KeyedCallRequest keyed;
    keyed.set_idempotency_key(key + "-" + table);
    *keyed.mutable_update() = IncrementOf(table, id, delta);
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
    v1::KeyedCallResponse response;
    return server->Stub()->KeyedCall(&context, keyed, &response);
  };

  pqxx::connection holder(DatabaseUrl());
  pqxx::work lock(holder);
  lock.exec("SELECT * FROM " + table + " WHERE id = 1 FOR UPDATE");
  grpc::Status blocked;
  std::thread first(
      [&] { blocked = keyed_increment("first", 1, 1, absl::Seconds(60)); });
  ASSERT_TRUE(Eventually([&] { return db.LockWaiters(table) == 1; }))
      << server->Log();

  EXPECT_EQ(
      keyed_increment("abandoned", 2, 1, absl::Milliseconds(300)).error_code(),
      grpc::StatusCode::DEADLINE_EXCEEDED);
  absl::SleepFor(absl::Seconds(1));
  lock.commit();
  first.join();
  EXPECT_TRUE(blocked.ok()) << blocked.error_message();
  const grpc::Status after = keyed_increment("after", 2, 10, absl::Seconds(60));
  EXPECT_TRUE(after.ok()) << after.error_message();
  EXPECT_EQ(db.Scalar("SELECT n FROM " + table + " WHERE id = 2"), "10");
}

// Large requests in flight take memory (a request's rows several times
// over while it runs); past IDEM_MAX_BYTES_IN_FLIGHT over all calls a new
// call is refused RESOURCE_EXHAUSTED OVERLOADED with a retry delay instead
// of growing the server towards its pod's memory limit, while small calls
// and a large one alone still run.
TEST(MemoryAdmissionTest, RequestBytesInFlightAreBounded) {
  TestDatabase db;
  const std::string table = TestDatabase::UniqueName("bytes");
  db.Exec("CREATE TABLE " + table + " (id bigint PRIMARY KEY, note text)");
  db.Exec("INSERT INTO " + table + " VALUES (1, '')");
  ServerProcess::Options options;
  options.env = {{"IDEM_TABLES", table},
                 {"IDEM_MAX_BYTES_IN_FLIGHT", "1048576"},
                 {"IDEM_LOCK_TIMEOUT", "60s"}};
  auto server = ServerProcess::Start(options);
  const std::string large(700 << 10, 'x');

  pqxx::connection holder(DatabaseUrl());
  pqxx::work lock(holder);
  lock.exec("SELECT * FROM " + table + " WHERE id = 1 FOR UPDATE");
  v1::UpdateRequest parked;
  parked.set_table(table);
  *parked.mutable_key() = RowOf({{"id", Int(1)}});
  *parked.mutable_set() = RowOf({{"note", Str(large)}});
  grpc::Status parked_status;
  std::thread first([&] {
    grpc::ClientContext context;
    v1::UpdateResponse response;
    parked_status = server->Stub()->Update(&context, parked, &response);
  });
  ASSERT_TRUE(Eventually([&] { return db.LockWaiters(table) == 1; }))
      << server->Log();

  auto insert = [&](int64_t id, const std::string& note) {
    v1::InsertRequest request;
    request.set_table(table);
    *request.add_rows() = RowOf({{"id", Int(id)}, {"note", Str(note)}});
    grpc::ClientContext context;
    v1::InsertResponse response;
    return server->Stub()->Insert(&context, request, &response);
  };
  const grpc::Status refused = insert(2, large);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << refused.error_message();
  EXPECT_EQ(ReasonOf(refused), "OVERLOADED");
  EXPECT_TRUE(insert(3, "small").ok());
  lock.commit();
  first.join();
  EXPECT_TRUE(parked_status.ok()) << parked_status.error_message();
  // Alone now, once the Update's answer has left (until then its request
  // and answer still count, and the call is asked to retry after a delay).
  EXPECT_TRUE(Eventually([&] { return insert(2, large).ok(); }));
  EXPECT_EQ(db.Scalar("SELECT count(*) FROM " + table), "3");
}

// A replica whose wall clock is behind the database's (here by 90 s,
// through libfaketime; its monotonic clock is untouched) must still keep a
// key its whole retention: brief section 1, "keys are kept at least the
// configured retention". Its records were stamped with its own clock, so a
// key kept 60 s had expired 30 s before it was written, and a resend
// through another replica applied the increment again.
TEST(ClockTest, AReplicaWhoseClockIsBehindKeepsKeysTheirWholeRetention) {
  const std::string faketime =
      "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1";
  ASSERT_EQ(access(faketime.c_str(), R_OK), 0)
      << "libfaketime is missing: scripts/install-deps installs it";
  TestDatabase db;
  const std::string table = db.CreateCounters("skewed", "(1, 0)");
  ServerProcess::Options skewed_options;
  skewed_options.env = {{"IDEM_TABLES", table},
                        {"IDEM_TOMBSTONE_RETENTION", "0s"},
                        {"LD_PRELOAD", faketime},
                        {"FAKETIME", "-90s"},
                        {"FAKETIME_DONT_FAKE_MONOTONIC", "1"}};
  auto skewed = ServerProcess::Start(skewed_options);
  ServerProcess::Options plain_options;
  plain_options.env = {{"IDEM_TABLES", table}};
  auto plain = ServerProcess::Start(plain_options);
  HealthCheckResponse health;
  ASSERT_TRUE(Eventually([&] {
    return CheckHealth(skewed->Channel(), &health).ok() &&
           health.status() == HealthCheckResponse::SERVING;
  })) << skewed->Log();

  v1::KeyedCallRequest keyed;
  keyed.set_idempotency_key("skewed-" + table);
  *keyed.mutable_update() = IncrementOf(table, 1, 1);
  keyed.mutable_retention()->set_seconds(60);
  auto call = [&](ServerProcess& server) {
    grpc::ClientContext context;
    v1::KeyedCallResponse response;
    const grpc::Status status =
        server.Stub()->KeyedCall(&context, keyed, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  };
  const v1::KeyedCallResponse first = call(*skewed);
  const int64_t database_now =
      std::stoll(db.Scalar("SELECT extract(epoch FROM now())::bigint"));
  EXPECT_GE(first.expires_at().seconds(), database_now + 50)
      << "expires_at " << first.expires_at().seconds() << ", database "
      << database_now;

  grpc::ClientContext context;
  v1::GetKeyRequest get;
  get.set_idempotency_key(keyed.idempotency_key());
  v1::GetKeyResponse key;
  ASSERT_TRUE(plain->Stub()->GetKey(&context, get, &key).ok());
  EXPECT_EQ(key.state(), v1::KEY_STATE_FINISHED);
  EXPECT_TRUE(call(*plain).replayed());
  EXPECT_EQ(db.Scalar("SELECT n FROM " + table + " WHERE id = 1"), "1");
}

}  // namespace
}  // namespace idem::testing
