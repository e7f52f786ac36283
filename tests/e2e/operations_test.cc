// End-to-end operations: the Prometheus counters move by exactly the calls
// made, the request log carries the caller's trace id and names keys only
// by a hash, and a SIGTERM drain turns health NOT_SERVING while the
// listener still serves, then exits 0.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "grpc/health/v1/health.grpc.pb.h"
#include "nlohmann/json.hpp"
#include "service/common/sha256.h"
#include "tests/support/fault_proxy.h"
#include "tests/support/metrics_scrape.h"
#include "tests/support/polling.h"
#include "tests/support/scratch_database.h"
#include "tests/support/server_process.h"
#include "tests/support/test_database.h"
#include "tests/support/values.h"

namespace idem::testing {
namespace {

using grpc::health::v1::Health;
using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

// The status of `service` through `health`; UNKNOWN when the check fails.
HealthCheckResponse::ServingStatus HealthOf(Health::Stub& health,
                                            const std::string& service) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(2));
  HealthCheckRequest request;
  request.set_service(service);
  HealthCheckResponse response;
  grpc::Status status = health.Check(&context, request, &response);
  return status.ok() ? response.status() : HealthCheckResponse::UNKNOWN;
}

class OperationsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    table_ = TestDatabase::UniqueName("ops");
    db_.Exec("CREATE TABLE " + table_ + " (id bigint PRIMARY KEY, n bigint)");
  }

  v1::InsertRequest Insert(int64_t id, int64_t n) const {
    v1::InsertRequest request;
    request.set_table(table_);
    *request.add_rows() = RowOf({{"id", Int(id)}, {"n", Int(n)}});
    return request;
  }

  std::unique_ptr<ServerProcess> StartWithMetrics(int metrics_port) const {
    ServerProcess::Options options;
    options.env = {
        {"IDEM_TABLES", table_},
        {"IDEM_METRICS_LISTEN", "127.0.0.1:" + std::to_string(metrics_port)}};
    return ServerProcess::Start(options);
  }

  TestDatabase db_;
  std::string table_;
};

TEST_F(OperationsTest, MetricsCountExactlyTheCallsMade) {
  const int metrics_port = FreeLoopbackPort();
  auto server = StartWithMetrics(metrics_port);
  std::map<std::string, double> before = Samples(Scrape(metrics_port));
  ASSERT_EQ(before.count("idem_build_info{version=\"0.1.0\"}"), 1u)
      << Scrape(metrics_port);

  auto stub = server->Stub();
  auto call = [&](auto method, const auto& request, auto* response) {
    grpc::ClientContext context;
    return ((*stub).*method)(&context, request, response).error_code();
  };
  v1::InsertResponse inserted;
  EXPECT_EQ(call(&v1::IdemService::Stub::Insert, Insert(1, 1), &inserted),
            grpc::StatusCode::OK);
  EXPECT_EQ(call(&v1::IdemService::Stub::Insert, Insert(1, 2), &inserted),
            grpc::StatusCode::OK);  // CONFLICT
  EXPECT_EQ(
      call(&v1::IdemService::Stub::Insert, v1::InsertRequest(), &inserted),
      grpc::StatusCode::INVALID_ARGUMENT);
  v1::KeyedCallRequest keyed;
  keyed.set_idempotency_key("metrics-" + table_);
  *keyed.mutable_insert() = Insert(2, 2);
  v1::KeyedCallResponse answer;
  EXPECT_EQ(call(&v1::IdemService::Stub::KeyedCall, keyed, &answer),
            grpc::StatusCode::OK);
  EXPECT_EQ(call(&v1::IdemService::Stub::KeyedCall, keyed, &answer),
            grpc::StatusCode::OK);  // replay
  *keyed.mutable_insert() = Insert(3, 3);
  EXPECT_EQ(call(&v1::IdemService::Stub::KeyedCall, keyed, &answer),
            grpc::StatusCode::FAILED_PRECONDITION);  // key reused
  // A conflict met by a step of a transaction is a conflict too (the old
  // server counted only those of Inserts).
  v1::KeyedCallRequest transaction;
  transaction.set_idempotency_key("metrics-step-" + table_);
  *transaction.mutable_transaction()->add_steps()->mutable_insert() =
      Insert(1, 3);
  EXPECT_EQ(call(&v1::IdemService::Stub::KeyedCall, transaction, &answer),
            grpc::StatusCode::OK);

  std::map<std::string, double> after = Samples(Scrape(metrics_port));
  auto delta = [&](const std::string& sample) {
    return after[sample] - before[sample];
  };
  const std::string tenant = "tenant=\"default\"";
  EXPECT_EQ(delta("idem_requests_total{code=\"OK\",method=\"Insert\"," +
                  tenant + "}"),
            2);
  EXPECT_EQ(
      delta("idem_requests_total{code=\"INVALID_ARGUMENT\",method=\"Insert\"," +
            tenant + "}"),
      1);
  EXPECT_EQ(delta("idem_requests_total{code=\"OK\",method=\"KeyedCall\"," +
                  tenant + "}"),
            3);
  EXPECT_EQ(delta("idem_requests_total{code=\"FAILED_PRECONDITION\",method="
                  "\"KeyedCall\"," +
                  tenant + "}"),
            1);
  EXPECT_EQ(delta("idem_request_duration_seconds_count{method=\"Insert\"}"), 3);
  EXPECT_EQ(delta("idem_replays_total{" + tenant + "}"), 1);
  EXPECT_EQ(
      delta("idem_row_conflicts_total{outcome=\"CONFLICT\"," + tenant + "}"),
      2);
  EXPECT_EQ(delta("idem_key_mismatches_total{" + tenant + "}"), 1);
  EXPECT_EQ(after.count("idem_db_connections_in_use"), 1u);
}

// The gauges the alerts of deploy/k8s/components/monitoring read: pool
// size, replay-cache usage and evictions of answers still replayable, and
// when the reaper last finished a pass.
TEST_F(OperationsTest, MetricsForTheAlerts) {
  const int metrics_port = FreeLoopbackPort();
  ServerProcess::Options options;
  options.env = {
      {"IDEM_TABLES", table_},
      {"IDEM_METRICS_LISTEN", "127.0.0.1:" + std::to_string(metrics_port)},
      {"IDEM_POOL_SIZE", "7"},
      {"IDEM_REPLAY_CACHE_BYTES", "4096"},
      {"IDEM_REAPER_INTERVAL", "1s"}};
  auto server = ServerProcess::Start(options);
  auto stub = server->Stub();
  for (int i = 0; i < 40; ++i) {
    v1::KeyedCallRequest keyed;
    keyed.set_idempotency_key("alerts-" + table_ + "-" + std::to_string(i));
    *keyed.mutable_insert() = Insert(100 + i, i);
    grpc::ClientContext context;
    v1::KeyedCallResponse answer;
    ASSERT_TRUE(stub->KeyedCall(&context, keyed, &answer).ok());
  }
  std::map<std::string, double> samples;
  EXPECT_TRUE(Eventually([&] {
    samples = Samples(Scrape(metrics_port));
    return samples["idem_reaper_last_pass_timestamp_seconds"] > 0;
  }));
  EXPECT_EQ(samples["idem_db_connections_max"], 7);
  EXPECT_EQ(samples["idem_replay_cache_max_bytes"], 4096);
  EXPECT_GT(samples["idem_replay_cache_bytes"], 0);
  EXPECT_LE(samples["idem_replay_cache_bytes"], 4096);
  EXPECT_GT(samples["idem_replay_cache_evicted_live_total"], 0);
  EXPECT_NEAR(samples["idem_reaper_last_pass_timestamp_seconds"],
              std::chrono::duration<double>(
                  std::chrono::system_clock::now().time_since_epoch())
                  .count(),
              60);
}

// Each call of a batch is counted as the call it holds, under the batch's
// tenant, also when it is refused before it runs; the Batch RPC once.
TEST_F(OperationsTest, MetricsCountEachCallOfABatch) {
  const int metrics_port = FreeLoopbackPort();
  auto server = StartWithMetrics(metrics_port);
  std::map<std::string, double> before = Samples(Scrape(metrics_port));

  v1::BatchRequest request;
  *request.add_calls()->mutable_insert() = Insert(20, 1);
  request.add_calls();  // holds no call
  *request.add_calls()->mutable_insert() = v1::InsertRequest();  // no table
  v1::BatchResponse response;
  grpc::ClientContext context;
  ASSERT_TRUE(server->Stub()->Batch(&context, request, &response).ok());
  ASSERT_EQ(response.results_size(), 3);

  std::map<std::string, double> after = Samples(Scrape(metrics_port));
  auto delta = [&](const std::string& method, const std::string& code) {
    const std::string sample = "idem_requests_total{code=\"" + code +
                               "\",method=\"" + method +
                               "\",tenant=\"default\"}";
    return after[sample] - before[sample];
  };
  EXPECT_EQ(delta("Batch", "OK"), 1);
  EXPECT_EQ(delta("Insert", "OK"), 1);
  EXPECT_EQ(delta("Insert", "INVALID_ARGUMENT"), 1);
  EXPECT_EQ(delta("BatchCall", "INVALID_ARGUMENT"), 1);
  EXPECT_EQ(db_.Scalar("SELECT count(*) FROM " + table_), "1");
}

// The key table's live records by state, as the reaper counts them, and
// the calls a tombstone answered.
TEST_F(OperationsTest, MetricsCountKeysByStateAndTombstoneHits) {
  // A database of its own: the gauges count every key in it.
  ScratchDatabase database("idem_ops_keys");
  TestDatabase scratch(database.url());
  scratch.Exec("CREATE TABLE " + table_ + " (id bigint PRIMARY KEY, n bigint)");
  const int metrics_port = FreeLoopbackPort();
  ServerProcess::Options options;
  options.env = {
      {"IDEM_DATABASE_URL", database.url()},
      {"IDEM_TABLES", table_},
      {"IDEM_METRICS_LISTEN", "127.0.0.1:" + std::to_string(metrics_port)},
      {"IDEM_KEY_RETENTION", "1s"},
      {"IDEM_COPY_LEASE", "1s"},
      {"IDEM_TOMBSTONE_RETENTION", "1h"},
      {"IDEM_REAPER_INTERVAL", "200ms"}};
  auto server = ServerProcess::Start(options);
  auto stub = server->Stub();
  auto call = [&](const v1::KeyedCallRequest& request) {
    grpc::ClientContext context;
    v1::KeyedCallResponse response;
    EXPECT_TRUE(stub->KeyedCall(&context, request, &response).ok());
    return response;
  };
  // An answer kept an hour, one kept a second (then a tombstone), and a
  // claim in flight.
  v1::KeyedCallRequest kept;
  kept.set_idempotency_key("kept");
  *kept.mutable_insert() = Insert(1, 1);
  kept.mutable_retention()->set_seconds(3600);
  call(kept);
  v1::KeyedCallRequest brief;
  brief.set_idempotency_key("brief");
  *brief.mutable_insert() = Insert(2, 2);
  call(brief);
  scratch.Exec(
      "INSERT INTO idem.idempotency_keys (tenant, idempotency_key, "
      "fingerprint, state, first_executed_at, last_seen_at, "
      "lease_expires_at, expires_at) VALUES ('default', 'in-flight', "
      "'\\x00', 1, now(), now(), now() + interval '1 minute', "
      "now() + interval '1 day')");

  const std::string hits = "idem_tombstone_hits_total{tenant=\"default\"}";
  ASSERT_TRUE(Eventually([&] { return call(brief).answer_expired(); }));
  EXPECT_EQ(Samples(Scrape(metrics_port))[hits], 1);
  std::map<std::string, double> samples;
  EXPECT_TRUE(Eventually([&] {
    samples = Samples(Scrape(metrics_port));
    return samples["idem_keys{state=\"finished\"}"] == 1 &&
           samples["idem_keys{state=\"in_flight\"}"] == 1 &&
           samples["idem_keys{state=\"expired\"}"] == 1;
  })) << Scrape(metrics_port);
}

// The request lines of `log`, parsed.
std::vector<nlohmann::json> RequestLines(const std::string& log) {
  std::vector<nlohmann::json> lines;
  std::istringstream stream(log);
  std::string line;
  while (std::getline(stream, line)) {
    if (line.find("\"event\":\"request\"") != std::string::npos) {
      lines.push_back(nlohmann::json::parse(line));
    }
  }
  return lines;
}

// A caller's W3C traceparent puts its trace id in the line; a call under a
// key is named by the key's hash, never by the key, also in the message.
TEST_F(OperationsTest, RequestLogCarriesTheTraceIdAndOnlyAHashOfTheKey) {
  ServerProcess::Options options;
  options.env = {{"IDEM_TABLES", table_}, {"IDEM_REQUEST_LOG", "all"}};
  auto server = ServerProcess::Start(options);
  auto stub = server->Stub();
  const std::string key = "customer-4711-" + table_;
  const std::string trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
  auto traced = [&](grpc::ClientContext& context) {
    context.AddMetadata("traceparent",
                        "00-" + trace_id + "-00f067aa0ba902b7-01");
  };
  v1::KeyedCallRequest keyed;
  keyed.set_idempotency_key(key);
  *keyed.mutable_insert() = Insert(1, 1);
  v1::KeyedCallResponse answer;
  {
    grpc::ClientContext context;
    traced(context);
    ASSERT_TRUE(stub->KeyedCall(&context, keyed, &answer).ok());
  }
  *keyed.mutable_insert() = Insert(2, 2);  // another call: a mismatch
  {
    grpc::ClientContext context;
    traced(context);
    ASSERT_EQ(stub->KeyedCall(&context, keyed, &answer).error_code(),
              grpc::StatusCode::FAILED_PRECONDITION);
  }
  {
    grpc::ClientContext context;
    traced(context);
    v1::GetKeyRequest request;
    request.set_idempotency_key(key);
    v1::GetKeyResponse response;
    ASSERT_TRUE(stub->GetKey(&context, request, &response).ok());
  }
  {
    grpc::ClientContext context;
    traced(context);
    v1::ForgetKeyRequest request;
    request.set_idempotency_key(key);
    v1::ForgetKeyResponse response;
    ASSERT_TRUE(stub->ForgetKey(&context, request, &response).ok());
  }
  {
    grpc::ClientContext context;  // no key, a malformed traceparent
    context.AddMetadata("traceparent", "00-" + trace_id + "-0-01");
    v1::InsertResponse response;
    ASSERT_TRUE(stub->Insert(&context, Insert(3, 3), &response).ok());
  }

  const std::string log = server->Log();
  EXPECT_EQ(log.find(key), std::string::npos) << log;
  const std::string key_hash = Sha256Hex("default\n" + key).substr(0, 12);
  int keyed_lines = 0;
  for (const nlohmann::json& line : RequestLines(log)) {
    SCOPED_TRACE(line.dump());
    if (line["method"] == "Insert") {
      EXPECT_FALSE(line.contains("trace_id"));
      EXPECT_FALSE(line.contains("key_hash"));
      continue;
    }
    ++keyed_lines;
    // A caller's mismatch is information, not the operator's alarm.
    EXPECT_EQ(line.value("level", ""), "info");
    EXPECT_EQ(line.value("trace_id", ""), trace_id);
    EXPECT_EQ(line.value("key_hash", ""), key_hash);
    if (line["code"] != "OK") {
      EXPECT_NE(line.value("message", "").find("<key " + key_hash + ">"),
                std::string::npos);
    }
  }
  EXPECT_EQ(keyed_lines, 4) << log;
}

// Values of the caller's rows that PostgreSQL quotes when it refuses them
// ('invalid input syntax for type bigint: "..."') stay out of the log, as
// keys do: a pipeline's rows may hold personal data, and logs go where the
// data must not. The caller's own answer keeps them; the log keeps the
// rest of the message, and the names of columns and constraints.
TEST_F(OperationsTest, RequestLogWithholdsTheValuesOfRows) {
  ServerProcess::Options options;
  options.env = {{"IDEM_TABLES", table_}};
  auto server = ServerProcess::Start(options);
  auto stub = server->Stub();
  const std::vector<std::string> values = {"jane.doe@example.com",
                                           "99999999999999999999", "x\"y\"z"};
  int64_t id = 0;
  for (const std::string& value : values) {
    v1::InsertRequest insert;
    insert.set_table(table_);
    *insert.add_rows() = RowOf({{"id", Int(++id)}, {"n", Str(value)}});
    v1::InsertResponse response;
    grpc::ClientContext context;
    const grpc::Status status = stub->Insert(&context, insert, &response);
    ASSERT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(status.error_message().find(value), std::string::npos)
        << status.error_message();
    // Under a key, twice: the failure is stored, then replayed from it.
    v1::KeyedCallRequest keyed;
    keyed.set_idempotency_key("withheld-" + std::to_string(id) + table_);
    *keyed.mutable_insert() = insert;
    for (int attempt = 0; attempt < 2; ++attempt) {
      v1::KeyedCallResponse answer;
      grpc::ClientContext keyed_context;
      EXPECT_EQ(stub->KeyedCall(&keyed_context, keyed, &answer).error_code(),
                grpc::StatusCode::INVALID_ARGUMENT);
    }
  }
  // A check's failing row, which PostgreSQL shows in its DETAIL.
  db_.Exec("ALTER TABLE " + table_ + " ADD CONSTRAINT " + table_ +
           "_small CHECK (n < 1000)");
  {
    v1::InsertResponse response;
    grpc::ClientContext context;
    ASSERT_EQ(
        stub->Insert(&context, Insert(7, 271828182), &response).error_code(),
        grpc::StatusCode::FAILED_PRECONDITION);
  }

  const std::string log = server->Log();
  for (const std::string& value : values) {
    EXPECT_EQ(log.find(value), std::string::npos) << value << "\n" << log;
  }
  EXPECT_EQ(log.find("271828182"), std::string::npos) << log;
  int refused = 0;
  for (const nlohmann::json& line : RequestLines(log)) {
    for (const std::string& value : values) {
      EXPECT_EQ(line.value("message", "").find(value), std::string::npos)
          << line.dump();
    }
    if (line["code"] != "INVALID_ARGUMENT") continue;
    ++refused;
    EXPECT_NE(line.value("message", "").find("for type bigint"),
              std::string::npos)
        << line.dump();
  }
  EXPECT_EQ(refused, 9) << log;
  EXPECT_NE(log.find(table_ + "_small"), std::string::npos) << log;
}

// Lines of `log` for finished calls of `method` that ended with `code`.
int RequestLines(const std::string& log, const std::string& method,
                 const std::string& code) {
  int lines = 0;
  std::istringstream stream(log);
  std::string line;
  while (std::getline(stream, line)) {
    if (line.find("\"event\":\"request\"") != std::string::npos &&
        line.find("\"method\":\"" + method + "\"") != std::string::npos &&
        line.find("\"code\":\"" + code + "\"") != std::string::npos) {
      ++lines;
    }
  }
  return lines;
}

TEST_F(OperationsTest, FailedCallsAreLoggedAndSuccessfulOnesWhenAsked) {
  for (const char* setting : {"", "all"}) {
    ServerProcess::Options options;
    options.env = {{"IDEM_TABLES", table_}};
    if (*setting != '\0') options.env["IDEM_REQUEST_LOG"] = setting;
    auto server = ServerProcess::Start(options);
    auto stub = server->Stub();
    v1::InsertResponse response;
    grpc::ClientContext ok_context;
    ASSERT_TRUE(stub->Insert(&ok_context, Insert(1, 1), &response).ok());
    grpc::ClientContext bad_context;
    ASSERT_EQ(
        stub->Insert(&bad_context, v1::InsertRequest(), &response).error_code(),
        grpc::StatusCode::INVALID_ARGUMENT);
    // Lines are written before the answer leaves: both are there now.
    const std::string log = server->Log();
    EXPECT_EQ(RequestLines(log, "Insert", "INVALID_ARGUMENT"), 1) << log;
    EXPECT_EQ(RequestLines(log, "Insert", "OK"), *setting == '\0' ? 0 : 1)
        << setting << "\n"
        << log;
  }
}

TEST_F(OperationsTest, LivenessIsServingWhileTheProcessRuns) {
  auto server = ServerProcess::Start(ServerProcess::Options());
  auto health = Health::NewStub(server->Channel());
  HealthCheckRequest request;
  request.set_service("liveness");
  EXPECT_TRUE(Eventually([&] {
    grpc::ClientContext context;
    HealthCheckResponse response;
    return health->Check(&context, request, &response).ok() &&
           response.status() == HealthCheckResponse::SERVING;
  })) << server->Log();
}

// A database outage takes the replica out of rotation (readiness, service
// "") but must not fail liveness: kubelet would restart every replica, and
// a replica that starts while the database is unreachable exits, so the
// whole fleet would crash-loop until the database is back.
TEST_F(OperationsTest, ADatabaseOutageFailsReadinessButNotLiveness) {
  const std::string url = DatabaseUrl();
  const size_t host = url.find('@') + 1;
  const size_t path = url.find('/', host);
  auto proxy = FaultProxy::Start(url.substr(host, path - host));
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  ServerProcess::Options options;
  options.env = {
      {"IDEM_DATABASE_URL",
       url.substr(0, host) + (*proxy)->address() + url.substr(path)}};
  auto server = ServerProcess::Start(options);
  auto health = Health::NewStub(server->Channel());
  auto status_now = [&](const std::string& service) {
    return HealthOf(*health, service);
  };
  ASSERT_TRUE(Eventually([&] {
    return status_now("") == HealthCheckResponse::SERVING;
  })) << server->Log();

  FaultProxy::Faults outage;
  outage.reset_probability = 1;
  (*proxy)->SetFaults(outage);
  (*proxy)->ResetAll();
  EXPECT_TRUE(Eventually([&] {
    return status_now("") == HealthCheckResponse::NOT_SERVING;
  })) << server->Log();
  EXPECT_EQ(status_now("liveness"), HealthCheckResponse::SERVING);

  (*proxy)->SetFaults({});
  EXPECT_TRUE(Eventually([&] {
    return status_now("") == HealthCheckResponse::SERVING;
  })) << server->Log();
  EXPECT_EQ(status_now("liveness"), HealthCheckResponse::SERVING);
}

TEST_F(OperationsTest, DrainTurnsHealthNotServingBeforeTheListenerCloses) {
  ServerProcess::Options options;
  options.env = {{"IDEM_TABLES", table_},
                 {"IDEM_DRAIN_DELAY", "8s"},
                 {"IDEM_SHUTDOWN_GRACE", "10s"}};
  auto server = ServerProcess::Start(options);
  auto health = Health::NewStub(server->Channel());
  auto status_now = [&] {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(2));
    HealthCheckResponse response;
    grpc::Status status =
        health->Check(&context, HealthCheckRequest(), &response);
    return status.ok() ? response.status() : HealthCheckResponse::UNKNOWN;
  };
  ASSERT_TRUE(Eventually([&] {
    return status_now() == HealthCheckResponse::SERVING;
  })) << server->Log();

  server->Signal(SIGTERM);
  ASSERT_TRUE(Eventually([&] {
    return status_now() == HealthCheckResponse::NOT_SERVING;
  })) << server->Log();
  // Still inside the (generous) drain delay: a new connection is served.
  grpc::ClientContext context;
  v1::InsertResponse response;
  grpc::Status insert =
      v1::IdemService::NewStub(
          grpc::CreateChannel(server->address(),
                              grpc::InsecureChannelCredentials()))
          ->Insert(&context, Insert(9, 9), &response);
  EXPECT_TRUE(insert.ok()) << insert.error_message();
  EXPECT_EQ(server->Wait(), 0) << server->Log();
  EXPECT_EQ(db_.Scalar("SELECT n FROM " + table_ + " WHERE id = 9"), "9");
}

// IDEM_HEALTH_LISTEN: a plaintext port with health alone, for kubelet
// probes when the main port is TLS (the prod overlays set it). It follows
// the server's health, drain included, and serves nothing else.
TEST_F(OperationsTest, TheProbePortServesHealthAloneAndFollowsTheDrain) {
  const int probe_port = FreeLoopbackPort();
  const std::string probe_address = "127.0.0.1:" + std::to_string(probe_port);
  ServerProcess::Options options;
  options.env = {{"IDEM_TABLES", table_},
                 {"IDEM_HEALTH_LISTEN", probe_address},
                 {"IDEM_DRAIN_DELAY", "5s"}};
  auto server = ServerProcess::Start(options);
  auto probe =
      grpc::CreateChannel(probe_address, grpc::InsecureChannelCredentials());
  auto health = Health::NewStub(probe);
  auto status_now = [&](const std::string& service) {
    return HealthOf(*health, service);
  };
  ASSERT_TRUE(Eventually([&] {
    return status_now("") == HealthCheckResponse::SERVING;
  })) << server->Log();
  EXPECT_EQ(status_now("liveness"), HealthCheckResponse::SERVING);

  grpc::ClientContext context;
  v1::InsertResponse response;
  EXPECT_EQ(v1::IdemService::NewStub(probe)
                ->Insert(&context, Insert(1, 1), &response)
                .error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_EQ(db_.Scalar("SELECT count(*) FROM " + table_), "0");

  server->Signal(SIGTERM);
  EXPECT_TRUE(Eventually([&] {
    return status_now("") == HealthCheckResponse::NOT_SERVING;
  })) << server->Log();
  EXPECT_EQ(server->Wait(), 0) << server->Log();
}

}  // namespace
}  // namespace idem::testing
