#include "tests/integration/keyed/keyed_fixture.h"

#include <atomic>
#include <stdexcept>
#include <thread>

namespace idem::testing::keyed {

v1::KeyedCallRequest Increment(const std::string& key, const std::string& table,
                               int64_t id, int64_t delta) {
  v1::KeyedCallRequest request;
  request.set_idempotency_key(key);
  v1::UpdateRequest* update = request.mutable_update();
  update->set_table(table);
  *update->mutable_key() = RowOf({{"id", Int(id)}});
  *update->mutable_increment() = RowOf({{"n", Int(delta)}});
  return request;
}

v1::KeyedCallRequest InsertRow(const std::string& key, const std::string& table,
                               const Columns& row) {
  v1::KeyedCallRequest request;
  request.set_idempotency_key(key);
  request.mutable_insert()->set_table(table);
  *request.mutable_insert()->add_rows() = RowOf(row);
  return request;
}

v1::KeyedCallRequest Copy(const std::string& key, const std::string& source,
                          const std::string& destination) {
  v1::KeyedCallRequest request;
  request.set_idempotency_key(key);
  request.mutable_copy_file()->set_source_path(source);
  request.mutable_copy_file()->set_destination_path(destination);
  return request;
}

bool Answer::marked_replayed() const {
  auto range = trailers.equal_range("idempotent-replayed");
  for (auto it = range.first; it != range.second; ++it) {
    if (it->second == "true") return true;
  }
  return false;
}

std::optional<int64_t> Answer::pushback_ms() const {
  auto it = trailers.find("grpc-retry-pushback-ms");
  if (it == trailers.end()) return std::nullopt;
  return std::stoll(it->second);
}

Answer Call(v1::IdemService::Stub& stub, const v1::KeyedCallRequest& request,
            const std::string& token) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 60s);
  if (!token.empty()) context.AddMetadata("authorization", "Bearer " + token);
  Answer answer;
  answer.status = stub.KeyedCall(&context, request, &answer.response);
  for (const auto& [name, value] : context.GetServerTrailingMetadata()) {
    answer.trailers.emplace(std::string(name.data(), name.size()),
                            std::string(value.data(), value.size()));
  }
  return answer;
}

Answer CallUntilSettled(v1::IdemService::Stub& stub,
                        const v1::KeyedCallRequest& request,
                        const std::string& token, int* attempts) {
  auto deadline = std::chrono::steady_clock::now() + 60s;
  int calls = 0;
  while (true) {
    Answer answer = Call(stub, request, token);
    ++calls;
    grpc::StatusCode code = answer.status.error_code();
    bool retryable = code == grpc::StatusCode::ABORTED ||
                     code == grpc::StatusCode::UNAVAILABLE;
    if (!retryable || std::chrono::steady_clock::now() > deadline) {
      if (attempts != nullptr) *attempts = calls;
      return answer;
    }
    std::this_thread::sleep_for(
        std::chrono::milliseconds(answer.pushback_ms().value_or(50)));
  }
}

std::string Quote(const std::string& text) {
  std::string quoted = "'";
  for (char c : text) {
    if (c == '\'') quoted += '\'';
    quoted += c;
  }
  return quoted + "'";
}

void ExpectAbortedWithPushback(const Answer& answer) {
  EXPECT_EQ(answer.status.error_code(), grpc::StatusCode::ABORTED)
      << answer.status.error_message();
  ASSERT_TRUE(answer.pushback_ms().has_value())
      << "ABORTED without grpc-retry-pushback-ms: "
      << answer.status.error_message();
  EXPECT_GT(*answer.pushback_ms(), 0);
  EXPECT_FALSE(answer.marked_replayed());
}

void ExpectExecuted(const Answer& answer) {
  ASSERT_TRUE(answer.ok()) << answer.status.error_code() << " "
                           << answer.status.error_message();
  EXPECT_FALSE(answer.response.replayed());
  EXPECT_FALSE(answer.marked_replayed());
  EXPECT_TRUE(answer.response.has_first_executed_at());
}

void ExpectReplayOf(const Answer& replay, const Answer& first) {
  ASSERT_EQ(replay.status.error_code(), first.status.error_code())
      << replay.status.error_message();
  EXPECT_EQ(replay.status.error_message(), first.status.error_message());
  EXPECT_TRUE(replay.marked_replayed());
  if (!first.ok()) return;
  EXPECT_TRUE(replay.response.replayed());
  v1::KeyedCallResponse expected = first.response;
  expected.set_replayed(true);
  EXPECT_EQ(replay.response.SerializeAsString(), expected.SerializeAsString())
      << "replay: " << replay.response.ShortDebugString()
      << "\nfirst:  " << first.response.ShortDebugString();
}

std::map<std::string, std::string> ServerEnv(
    const std::vector<std::string>& tables,
    std::map<std::string, std::string> env) {
  std::string list;
  for (const std::string& table : tables) {
    list += (list.empty() ? "" : ",") + table;
  }
  env.emplace("IDEM_TABLES", list);
  return env;
}

std::unique_ptr<TestDatabase> KeyedCallTest::db_;
std::unique_ptr<ServerProcess> KeyedCallTest::server_;
std::unique_ptr<v1::IdemService::Stub> KeyedCallTest::stub_;
std::string KeyedCallTest::counters_;
std::string KeyedCallTest::items_;
std::string KeyedCallTest::absent_;
std::vector<std::string> KeyedCallTest::tables_;
std::map<std::string, std::string> KeyedCallTest::env_;

void KeyedCallTest::StartServer(std::map<std::string, std::string> env) {
  db_ = std::make_unique<TestDatabase>();
  counters_ = TestDatabase::UniqueName("keyed_counters");
  items_ = TestDatabase::UniqueName("keyed_items");
  absent_ = TestDatabase::UniqueName("keyed_absent");
  tables_ = {counters_, items_, absent_};
  db_->Exec("CREATE TABLE " + counters_ +
            " (id bigint PRIMARY KEY, n bigint NOT NULL DEFAULT 0)");
  db_->Exec("CREATE TABLE " + items_ +
            " (id bigint PRIMARY KEY, name text, qty integer)");
  env_ = ServerEnv(tables_, std::move(env));
  server_ = ServerProcess::Start({.env = env_, .args = {}});
  stub_ = server_->Stub();
}

std::unique_ptr<ServerProcess> KeyedCallTest::StartAnotherServer(
    std::map<std::string, std::string> env) {
  std::map<std::string, std::string> settings = env_;
  for (const auto& [name, value] : env) settings[name] = value;
  return ServerProcess::Start({.env = settings, .args = {}});
}

void KeyedCallTest::TearDownTestSuite() {
  stub_.reset();
  server_.reset();
  for (const std::string& table : tables_) {
    db_->Exec("DROP TABLE IF EXISTS " + table);
  }
  db_.reset();
}

std::string KeyedCallTest::NewKey(const std::string& prefix) {
  return TestDatabase::UniqueName(prefix);
}

int64_t KeyedCallTest::NewCounter() {
  static std::atomic<int64_t> next{0};
  int64_t id = ++next;
  db().Exec("INSERT INTO " + counters_ + " (id) VALUES (" + std::to_string(id) +
            ")");
  return id;
}

int64_t KeyedCallTest::Counter(int64_t id) {
  return std::stoll(db().Scalar("SELECT n FROM " + counters_ +
                                " WHERE id = " + std::to_string(id)));
}

int64_t KeyedCallTest::ItemCount(int64_t id) {
  return std::stoll(db().Scalar("SELECT count(*) FROM " + items_ +
                                " WHERE id = " + std::to_string(id)));
}

int64_t KeyedCallTest::KeyRows(const std::string& key,
                               const std::string& tenant) {
  return std::stoll(
      db().Scalar("SELECT count(*) FROM idem.idempotency_keys WHERE tenant = " +
                  Quote(tenant) + " AND idempotency_key = " + Quote(key)));
}

std::string KeyedCallTest::KeyState(const std::string& key,
                                    const std::string& tenant) {
  return db().Scalar("SELECT state FROM idem.idempotency_keys WHERE tenant = " +
                     Quote(tenant) + " AND idempotency_key = " + Quote(key));
}

}  // namespace idem::testing::keyed
