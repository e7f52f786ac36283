#include "tests/integration/group_commit/group_commit_fixture.h"

#include <pqxx/nontransaction>

#include "service/db/migration_runner.h"
#include "service/keys/fingerprint.h"
#include "service/ops/insert_op.h"
#include "service/ops/update_op.h"
#include "tests/support/scratch_database.h"
#include "tests/support/values.h"

namespace idem::testing {
namespace {

v1::InsertRequest ItemsRow(const std::string& table, int64_t id,
                           const std::string& note, int64_t n) {
  v1::InsertRequest request;
  request.set_table(table);
  *request.add_rows() =
      RowOf({{"id", Int(id)}, {"note", Str(note)}, {"n", Int(n)}});
  return request;
}

}  // namespace

LockHolder::LockHolder(const std::string& sql)
    : connection_(DatabaseUrl()), txn_(connection_) {
  txn_.exec(sql);
}

void GroupCommitTest::SetUp() {
  tenant_ = TestDatabase::UniqueName("tenant");
  items_ = TestDatabase::UniqueName("gc_items");
  counters_ = TestDatabase::UniqueName("gc_counters");
  Open(DatabaseUrl(), 4);
}

void GroupCommitTest::Open(const std::string& url, int sessions) {
  pqxx::connection connection(url);
  pqxx::nontransaction arrange(connection);
  arrange.exec("CREATE TABLE " + items_ +
               " (id bigint PRIMARY KEY, note text, n bigint CHECK (n >= 0))");
  arrange.exec("CREATE TABLE " + counters_ +
               " (id bigint PRIMARY KEY, n bigint NOT NULL)");
  arrange.exec("INSERT INTO " + counters_ + " VALUES (1, 0)");
  db::PoolOptions options;
  options.url = url;
  options.size = sessions;
  // Calls parked behind a test's lock wait for the test, however slow the
  // machine, not for a timeout.
  options.lock_timeout = absl::Minutes(10);
  options.statement_timeout = absl::Minutes(10);
  pool_ = std::make_unique<db::ConnectionPool>(options);
  ASSERT_TRUE(db::ApplyMigrations(*pool_).ok());
  AllowTables({items_, counters_});
  key_store_ = std::make_unique<keys::KeyStore>(absl::Hours(1));
  UseReplayCache(nullptr);
  context_.pool = pool_.get();
}

void GroupCommitTest::UseReplayCache(keys::FinishedCallCache* cache) {
  ledger_ = std::make_unique<keys::Ledger>(*pool_, *key_store_, cache);
  context_.ledger = ledger_.get();
}

void GroupCommitTest::UseOwnPool(absl::Duration lock_timeout,
                                 const std::string& application_name) {
  db::PoolOptions options;
  options.url = DatabaseUrl();
  options.size = 2;
  options.lock_timeout = lock_timeout;
  options.application_name = application_name;
  own_pool_ = std::make_unique<db::ConnectionPool>(options);
  context_.pool = own_pool_.get();
}

void GroupCommitTest::AddCounters(int last) {
  db_.Exec("INSERT INTO " + counters_ +
           " SELECT g, 0 FROM generate_series(2, " + std::to_string(last) +
           ") g");
}

void GroupCommitTest::OpenOwnDatabase(int sessions) {
  own_database_ = TestDatabase::UniqueName("idem_own");
  db_.Exec("CREATE DATABASE " + own_database_);
  own_url_ = DatabaseUrlOf(own_database_);
  Open(own_url_, sessions);
}

void GroupCommitTest::CloseOwnDatabase() {
  pool_.reset();
  db_.Exec("DROP DATABASE " + own_database_ + " WITH (FORCE)");
}

std::string GroupCommitTest::CreateServedTable(const std::string& prefix,
                                               const std::string& columns,
                                               const std::string& row) {
  const std::string table = TestDatabase::UniqueName(prefix);
  db_.Exec("CREATE TABLE " + table + " (" + columns + ")");
  db_.Exec("INSERT INTO " + table + " VALUES (" + row + ")");
  AllowTables({table});
  return table;
}

void GroupCommitTest::AllowTables(const std::vector<std::string>& tables) {
  allowed_.insert(allowed_.end(), tables.begin(), tables.end());
  catalog_ = std::make_unique<db::Catalog>(*pool_, allowed_);
  ASSERT_TRUE(catalog_->LoadAll().ok());
  context_.catalog = catalog_.get();
}

ops::WriteCall GroupCommitTest::InsertCall(const v1::InsertRequest& request,
                                           const std::string& key) {
  absl::StatusOr<ops::PreparedInsert> insert =
      ops::PrepareInsert(context_, request);
  EXPECT_TRUE(insert.ok()) << insert.status();
  ops::WriteCall call{tenant_, *std::move(insert), std::nullopt};
  if (!key.empty()) {
    v1::KeyedCallRequest keyed;
    keyed.set_idempotency_key(key);
    *keyed.mutable_insert() = request;
    call.key = keys::KeyClaim{{tenant_, key}, keys::Fingerprint(keyed)};
  }
  return call;
}

ops::WriteCall GroupCommitTest::PlainInsert(int64_t id, const std::string& note,
                                            int64_t n) {
  return InsertCall(ItemsRow(items_, id, note, n));
}

ops::WriteCall GroupCommitTest::KeyedInsert(const std::string& key, int64_t id,
                                            const std::string& note,
                                            int64_t n) {
  return InsertCall(ItemsRow(items_, id, note, n), key);
}

ops::WriteCall GroupCommitTest::KeyedIncrement(const std::string& key,
                                               int64_t id) {
  v1::KeyedCallRequest request;
  request.set_idempotency_key(key);
  v1::UpdateRequest* update = request.mutable_update();
  update->set_table(counters_);
  *update->mutable_key() = RowOf({{"id", Int(id)}});
  *update->mutable_increment() = RowOf({{"n", Int(1)}});
  absl::StatusOr<ops::PreparedUpdate> prepared =
      ops::PrepareUpdate(context_, *update);
  EXPECT_TRUE(prepared.ok()) << prepared.status();
  return ops::WriteCall{
      tenant_, *std::move(prepared),
      keys::KeyClaim{{tenant_, key}, keys::Fingerprint(request)}};
}

std::vector<keys::Answer> GroupCommitTest::RunBatch(
    std::vector<ops::WriteCall>& calls) {
  std::vector<ops::WriteCall*> batch;
  for (ops::WriteCall& call : calls) batch.push_back(&call);
  return ops::RunWriteBatch(context_, batch);
}

std::string GroupCommitTest::KeyRecord(const std::string& key) {
  return db_.Scalar(
      "SELECT state || '/' || coalesce(status_code, -1) FROM "
      "idem.idempotency_keys WHERE tenant = '" +
      tenant_ + "' AND idempotency_key = '" + key + "'");
}

}  // namespace idem::testing
