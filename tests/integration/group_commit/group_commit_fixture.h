#ifndef IDEM_TESTS_INTEGRATION_GROUP_COMMIT_GROUP_COMMIT_FIXTURE_H_
#define IDEM_TESTS_INTEGRATION_GROUP_COMMIT_GROUP_COMMIT_FIXTURE_H_

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <pqxx/connection>
#include <pqxx/transaction>
#include <string>
#include <vector>

#include "service/db/catalog.h"
#include "service/db/connection_pool.h"
#include "service/keys/key_store.h"
#include "service/keys/ledger.h"
#include "service/ops/ops_context.h"
#include "service/ops/write_batch.h"
#include "tests/support/test_database.h"

namespace idem::testing {

// An open transaction of the test's own, on a connection of its own, that
// has run `sql` and so holds its locks until Commit or Abort: how a test
// parks a batch.
class LockHolder {
 public:
  explicit LockHolder(const std::string& sql);
  void Commit() { txn_.commit(); }
  void Abort() { txn_.abort(); }

 private:
  pqxx::connection connection_;
  pqxx::work txn_;
};

// The operations layer over the test database: an items table
// (id, note, n >= 0) and a counters table (id, n) with row 1 at 0, both
// new for every test, and a tenant of the test's own.
class GroupCommitTest : public ::testing::Test {
 protected:
  void SetUp() override;
  // The tables, pool, catalog and key store on the database at `url`
  // (migrated here), with `sessions` connections.
  void Open(const std::string& url, int sessions);
  // The same on a new database of the test's own (dropped by
  // CloseOwnDatabase): for what must not see other tests' work, such as
  // plans made on empty tables or the database's statistics.
  void OpenOwnDatabase(int sessions);
  void CloseOwnDatabase();

  // A plain Insert of one items row.
  ops::WriteCall PlainInsert(int64_t id, const std::string& note,
                             int64_t n = 0);
  // A KeyedCall inserting one items row under `key`.
  ops::WriteCall KeyedInsert(const std::string& key, int64_t id,
                             const std::string& note, int64_t n = 0);
  // A KeyedCall adding 1 to counter `id` (1: the one SetUp made) under
  // `key`.
  ops::WriteCall KeyedIncrement(const std::string& key, int64_t id = 1);
  // `request` checked against the catalog; under `key` unless it is empty.
  ops::WriteCall InsertCall(const v1::InsertRequest& request,
                            const std::string& key = "");

  // Replays answered from `cache` (null: from the database).
  void UseReplayCache(keys::FinishedCallCache* cache);

  // Serves `tables` too (the test has created them).
  void AllowTables(const std::vector<std::string>& tables);
  // A new table `prefix`_<unique> with `columns` (a column list) and one row
  // (`row`: its values), served as items and counters are. Its name.
  std::string CreateServedTable(const std::string& prefix,
                                const std::string& columns,
                                const std::string& row);

  std::vector<keys::Answer> RunBatch(std::vector<ops::WriteCall>& calls);

  // The operations then run on a pool of two sessions of their own, whose
  // statements wait `lock_timeout` for a row lock (the fixture's pool waits
  // ten minutes) and which name themselves `application_name`.
  void UseOwnPool(absl::Duration lock_timeout,
                  const std::string& application_name = "idem-server");
  // Counters 2..`last` at 0, beside counter 1.
  void AddCounters(int last);

  // The key's record as "state/status_code", or "" when there is none.
  std::string KeyRecord(const std::string& key);

  TestDatabase db_;
  std::string tenant_;
  std::string items_;
  std::string counters_;
  std::unique_ptr<db::ConnectionPool> pool_;
  std::unique_ptr<db::ConnectionPool> own_pool_;
  std::unique_ptr<db::Catalog> catalog_;
  std::unique_ptr<keys::KeyStore> key_store_;
  std::unique_ptr<keys::Ledger> ledger_;
  std::vector<std::string> allowed_;
  std::string own_database_;
  std::string own_url_;
  ops::OpsContext context_;
};

}  // namespace idem::testing

#endif  // IDEM_TESTS_INTEGRATION_GROUP_COMMIT_GROUP_COMMIT_FIXTURE_H_
