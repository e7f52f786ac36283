#include "tests/integration/harness.h"

#include <unistd.h>

#include <cctype>
#include <chrono>
#include <functional>
#include <stdexcept>

namespace idem::testing {
namespace {

std::unique_ptr<grpc::ClientContext> NewContext() {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::seconds(30));
  return context;
}

void ExpectRefused(const std::function<grpc::Status()>& call,
                   const Refusal& refusal,
                   const std::vector<std::string>& tables, TestDatabase& db) {
  std::vector<std::string> before;
  for (const std::string& table : tables) before.push_back(db.Dump(table));
  grpc::Status status = call();
  ExpectRefusal(status, refusal);
  EXPECT_FALSE(status.error_message().empty());
  ExpectNoSql(status);
  for (size_t i = 0; i < tables.size(); ++i) {
    EXPECT_EQ(db.Dump(tables[i]), before[i]) << "table " << tables[i];
  }
}

}  // namespace

Columns operator+(Columns left, const Columns& right) {
  for (const auto& [name, value] : right) left[name] = value;
  return left;
}

v1::InsertRequest InsertOf(const std::string& table,
                           const std::vector<Columns>& rows,
                           v1::OnConflict on_conflict,
                           const std::string& version_column) {
  v1::InsertRequest request;
  request.set_table(table);
  for (const Columns& row : rows) *request.add_rows() = RowOf(row);
  request.set_on_conflict(on_conflict);
  request.set_version_column(version_column);
  return request;
}

v1::UpdateRequest UpdateOf(const std::string& table, const Columns& key,
                           const Columns& set, const Columns& increment,
                           const std::string& version_column) {
  v1::UpdateRequest request;
  request.set_table(table);
  *request.mutable_key() = RowOf(key);
  *request.mutable_set() = RowOf(set);
  *request.mutable_increment() = RowOf(increment);
  request.set_version_column(version_column);
  return request;
}

void ExpectOutcomes(const v1::InsertResponse& response,
                    const std::vector<v1::RowOutcome>& expected) {
  std::vector<v1::RowOutcome> actual;
  for (int outcome : response.outcomes()) {
    actual.push_back(static_cast<v1::RowOutcome>(outcome));
  }
  EXPECT_EQ(actual, expected);
  std::map<v1::RowOutcome, int64_t> counts;
  for (v1::RowOutcome outcome : expected) ++counts[outcome];
  EXPECT_EQ(response.inserted(), counts[v1::ROW_OUTCOME_INSERTED]);
  EXPECT_EQ(response.duplicates(), counts[v1::ROW_OUTCOME_DUPLICATE]);
  EXPECT_EQ(response.conflicts(), counts[v1::ROW_OUTCOME_CONFLICT]);
  EXPECT_EQ(response.updated(), counts[v1::ROW_OUTCOME_UPDATED]);
  EXPECT_EQ(response.stale(), counts[v1::ROW_OUTCOME_STALE]);
}

void ExpectNoSql(const grpc::Status& status) {
  for (const char* sql : {"INSERT", "SELECT", "WITH", "UPDATE ", "ON CONFLICT",
                          "unnest", "$1", "::"}) {
    EXPECT_EQ(status.error_message().find(sql), std::string::npos)
        << "\"" << sql << "\" in: " << status.error_message();
  }
}

std::unique_ptr<TestDatabase> IntegrationTest::db_;
std::unique_ptr<ServerProcess> IntegrationTest::server_;
std::unique_ptr<v1::IdemService::Stub> IntegrationTest::stub_;
std::vector<std::string> IntegrationTest::tables_;
size_t IntegrationTest::next_table_ = 0;

void IntegrationTest::StartServer(std::map<std::string, std::string> env) {
  db_ = std::make_unique<TestDatabase>();
  const ::testing::TestSuite* suite =
      ::testing::UnitTest::GetInstance()->current_test_suite();
  std::string prefix;
  for (char c : std::string(suite != nullptr ? suite->name() : "it")) {
    prefix += std::isalnum(static_cast<unsigned char>(c))
                  ? static_cast<char>(std::tolower(c))
                  : '_';
  }
  prefix = TestDatabase::UniqueName(prefix.substr(0, 30));
  tables_.clear();
  next_table_ = 0;
  std::string allowed = env["IDEM_TABLES"];
  for (int i = 0; i < kTableCount; ++i) {
    tables_.push_back(prefix + "_t" + std::to_string(i));
    if (!allowed.empty()) allowed += ',';
    allowed += tables_.back();
  }
  env["IDEM_TABLES"] = allowed;
  ServerProcess::Options options;
  options.env = std::move(env);
  server_ = ServerProcess::Start(options);
  stub_ = server_->Stub();
}

void IntegrationTest::TearDownTestSuite() {
  stub_.reset();
  server_.reset();
  db_.reset();
}

std::string IntegrationTest::ReserveTable() {
  if (next_table_ >= tables_.size()) {
    throw std::logic_error("the suite needs a larger kTableCount");
  }
  return tables_[next_table_++];
}

std::string IntegrationTest::CreateTable(const std::string& definition) {
  std::string table = ReserveTable();
  db_->Exec("CREATE TABLE " + table + " (" + definition + ")");
  return table;
}

grpc::Status IntegrationTest::Insert(const v1::InsertRequest& request,
                                     v1::InsertResponse* response) {
  return stub_->Insert(NewContext().get(), request, response);
}

grpc::Status IntegrationTest::Update(const v1::UpdateRequest& request,
                                     v1::UpdateResponse* response) {
  return stub_->Update(NewContext().get(), request, response);
}

v1::InsertResponse IntegrationTest::InsertOk(const v1::InsertRequest& request) {
  v1::InsertResponse response;
  grpc::Status status = Insert(request, &response);
  EXPECT_TRUE(status.ok()) << status.error_code() << ": "
                           << status.error_message();
  return response;
}

v1::UpdateOutcome IntegrationTest::UpdateOk(const v1::UpdateRequest& request) {
  v1::UpdateResponse response;
  grpc::Status status = Update(request, &response);
  EXPECT_TRUE(status.ok()) << status.error_code() << ": "
                           << status.error_message();
  return response.outcome();
}

void IntegrationTest::ExpectInsertRefused(
    const v1::InsertRequest& request, const Refusal& refusal,
    const std::vector<std::string>& tables) {
  ExpectRefused(
      [&] {
        v1::InsertResponse response;
        return Insert(request, &response);
      },
      refusal, tables, *db_);
}

void IntegrationTest::ExpectUpdateRefused(
    const v1::UpdateRequest& request, const Refusal& refusal,
    const std::vector<std::string>& tables) {
  ExpectRefused(
      [&] {
        v1::UpdateResponse response;
        return Update(request, &response);
      },
      refusal, tables, *db_);
}

}  // namespace idem::testing
