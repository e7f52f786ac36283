#ifndef IDEM_TESTS_SUPPORT_SCRATCH_DATABASE_H_
#define IDEM_TESTS_SUPPORT_SCRATCH_DATABASE_H_

#include <string>

#include "tests/support/test_database.h"

namespace idem::testing {

// The tests' database URL (DatabaseUrl) naming `database` instead.
std::string DatabaseUrlOf(const std::string& database);

// A database of the test's own on the tests' cluster, for a test that
// changes what a whole database allows or counts every row of idem's
// tables: created empty, dropped (WITH (FORCE)) when destroyed.
class ScratchDatabase {
 public:
  explicit ScratchDatabase(const std::string& prefix = "idem_scratch");
  ~ScratchDatabase();
  ScratchDatabase(const ScratchDatabase&) = delete;
  ScratchDatabase& operator=(const ScratchDatabase&) = delete;

  const std::string& name() const { return name_; }
  // For IDEM_DATABASE_URL, or TestDatabase, on this database.
  const std::string& url() const { return url_; }

  // ALLOW_CONNECTIONS: refused, a new session fails; sessions already open
  // go on.
  void AllowConnections(bool allow);

 private:
  TestDatabase admin_;  // on the tests' own database
  const std::string name_;
  const std::string url_;
};

}  // namespace idem::testing

#endif  // IDEM_TESTS_SUPPORT_SCRATCH_DATABASE_H_
