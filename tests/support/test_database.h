#ifndef IDEM_TESTS_SUPPORT_TEST_DATABASE_H_
#define IDEM_TESTS_SUPPORT_TEST_DATABASE_H_

#include <pqxx/connection>
#include <pqxx/result>
#include <string>

namespace idem::testing {

// The tests' PostgreSQL (the CTest "pg" fixture): IDEM_TEST_DATABASE_URL.
std::string DatabaseUrl();

// A direct connection for arranging tables and checking what a call left
// behind. Tests never share a table: UniqueName gives each its own.
class TestDatabase {
 public:
  TestDatabase();
  // On another database of the cluster (ScratchDatabase::url).
  explicit TestDatabase(const std::string& url);

  void Exec(const std::string& sql);
  pqxx::result Query(const std::string& sql);
  // The first column of the first row, as text ("" for NULL).
  std::string Scalar(const std::string& sql);
  // The whole table as text, ordered by its first column: compare before and
  // after a refused call to prove that nothing changed.
  std::string Dump(const std::string& table);

  // A new table `prefix`_<unique> (id bigint PRIMARY KEY, n bigint) holding
  // `rows` ("(1, 0), (2, 0)"): the counters that server tests increment.
  std::string CreateCounters(const std::string& prefix,
                             const std::string& rows);

  // How many sessions wait on a lock in a statement that names `table`:
  // how a test knows that calls it parked behind a lock have arrived.
  int LockWaiters(const std::string& table);

  // "prefix_<pid>_<start>_<n>": unique across tests that run at once and
  // across runs. The test cluster outlives a run, and with it the keys and
  // tables named here, while a later run's process may get an earlier
  // one's pid: the process's start time (microseconds, hex) tells them
  // apart.
  static std::string UniqueName(const std::string& prefix);

 private:
  pqxx::connection connection_;
};

}  // namespace idem::testing

#endif  // IDEM_TESTS_SUPPORT_TEST_DATABASE_H_
