#include "tests/support/test_database.h"

#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <pqxx/nontransaction>
#include <stdexcept>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace idem::testing {

std::string DatabaseUrl() {
  const char* url = std::getenv("IDEM_TEST_DATABASE_URL");
  if (url == nullptr) {
    throw std::runtime_error(
        "IDEM_TEST_DATABASE_URL is not set: run the tests through ctest");
  }
  return url;
}

TestDatabase::TestDatabase() : connection_(DatabaseUrl()) {}

TestDatabase::TestDatabase(const std::string& url) : connection_(url) {}

void TestDatabase::Exec(const std::string& sql) { Query(sql); }

pqxx::result TestDatabase::Query(const std::string& sql) {
  pqxx::nontransaction txn(connection_);
  return txn.exec(sql);
}

std::string TestDatabase::Scalar(const std::string& sql) {
  pqxx::result result = Query(sql);
  if (result.empty() || result[0][0].is_null()) return "";
  return result[0][0].c_str();
}

std::string TestDatabase::Dump(const std::string& table) {
  std::string out;
  for (const pqxx::row& row :
       Query("SELECT t::text FROM " + table + " AS t ORDER BY 1")) {
    out += row[0].c_str();
    out += '\n';
  }
  return out;
}

int TestDatabase::LockWaiters(const std::string& table) {
  return std::stoi(Scalar(
      "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
      "AND query LIKE '%" +
      table + "%'"));
}

std::string TestDatabase::CreateCounters(const std::string& prefix,
                                         const std::string& rows) {
  std::string table = UniqueName(prefix);
  Exec("CREATE TABLE " + table + " (id bigint PRIMARY KEY, n bigint)");
  Exec("INSERT INTO " + table + " VALUES " + rows);
  return table;
}

std::string TestDatabase::UniqueName(const std::string& prefix) {
  static const std::string process = absl::StrCat(
      getpid(), "_",
      absl::Hex(static_cast<uint32_t>(absl::ToUnixMicros(absl::Now()))));
  static std::atomic<int> counter{0};
  return absl::StrCat(prefix, "_", process, "_", ++counter);
}

}  // namespace idem::testing
