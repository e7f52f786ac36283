#ifndef IDEM_TESTS_INTEGRATION_HARNESS_H_
#define IDEM_TESTS_INTEGRATION_HARNESS_H_

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "idem/v1/idem.grpc.pb.h"
#include "tests/support/rich_status.h"
#include "tests/support/server_process.h"
#include "tests/support/test_database.h"
#include "tests/support/values.h"

namespace idem::testing {

// Columns (tests/support/values.h) merged with `+`, so that a key and its
// values can be built apart: RowOf(key + Columns{{"name", Str("a")}}).
Columns operator+(Columns left, const Columns& right);

v1::InsertRequest InsertOf(
    const std::string& table, const std::vector<Columns>& rows,
    v1::OnConflict on_conflict = v1::ON_CONFLICT_UNSPECIFIED,
    const std::string& version_column = "");

v1::UpdateRequest UpdateOf(const std::string& table, const Columns& key,
                           const Columns& set, const Columns& increment = {},
                           const std::string& version_column = "");

// Checks the outcomes in request order and that every count matches them.
void ExpectOutcomes(const v1::InsertResponse& response,
                    const std::vector<v1::RowOutcome>& expected);

// A status message a caller may see: no SQL text.
void ExpectNoSql(const grpc::Status& status);

// One idem-server per test suite, allowing `kTableCount` table names that
// the suite's tests create one by one (CreateTable), plus a direct database
// connection. Suites that need settings override SetUpTestSuite and call
// StartServer with them.
class IntegrationTest : public ::testing::Test {
 public:
  static void SetUpTestSuite() { StartServer({}); }
  static void TearDownTestSuite();

 protected:
  static constexpr int kTableCount = 96;

  static void StartServer(std::map<std::string, std::string> env);
  static TestDatabase& db() { return *db_; }
  static ServerProcess& server() { return *server_; }

  // The next allow-listed name, created with the given column definitions.
  static std::string CreateTable(const std::string& definition);
  // The next allow-listed name, left absent.
  static std::string ReserveTable();

  static grpc::Status Insert(const v1::InsertRequest& request,
                             v1::InsertResponse* response);
  static grpc::Status Update(const v1::UpdateRequest& request,
                             v1::UpdateResponse* response);
  // Calls that must succeed.
  static v1::InsertResponse InsertOk(const v1::InsertRequest& request);
  static v1::UpdateOutcome UpdateOk(const v1::UpdateRequest& request);

  // The call is refused with `refusal` (its code, and its ErrorInfo reason
  // when given), its message holds no SQL, and none of `tables` changed.
  static void ExpectInsertRefused(const v1::InsertRequest& request,
                                  const Refusal& refusal,
                                  const std::vector<std::string>& tables);
  static void ExpectUpdateRefused(const v1::UpdateRequest& request,
                                  const Refusal& refusal,
                                  const std::vector<std::string>& tables);

 private:
  static std::unique_ptr<TestDatabase> db_;
  static std::unique_ptr<ServerProcess> server_;
  static std::unique_ptr<v1::IdemService::Stub> stub_;
  static std::vector<std::string> tables_;
  static size_t next_table_;
};

}  // namespace idem::testing

#endif  // IDEM_TESTS_INTEGRATION_HARNESS_H_
