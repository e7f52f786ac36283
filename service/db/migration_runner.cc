#include "service/db/migration_runner.h"

#include <algorithm>

#include "service/db/migrations.h"
#include "service/db/transaction.h"

namespace idem::db {
namespace {

// Any fixed number shared by every idem replica: "idem" in ASCII.
constexpr long long kMigrationLockId = 0x6964656d;

}  // namespace

absl::StatusOr<MigrationOutcome> ApplyMigrations(ConnectionPool& pool) {
  return RunInTransaction(
      pool, [](Transaction& txn) -> absl::StatusOr<MigrationOutcome> {
        // Neither the wait for another replica's migrations nor a long
        // migration (an index over millions of keys) is bounded by the
        // timeouts meant for calls.
        txn.ExecScript(
            "SET LOCAL lock_timeout = 0; "
            "SET LOCAL statement_timeout = 0");
        txn.ExecUnprepared("SELECT pg_advisory_xact_lock($1::bigint)",
                           {std::to_string(kMigrationLockId)});
        // CREATE SCHEMA checks the database's CREATE privilege even when
        // the schema exists, so only a missing schema is created: the
        // least-privilege role (deploy/sql) owns idem but may not create
        // schemas.
        txn.ExecScript(
            "DO $$BEGIN IF to_regnamespace('idem') IS NULL THEN "
            "CREATE SCHEMA idem; END IF; END$$; "
            "CREATE TABLE IF NOT EXISTS idem.schema_migrations ("
            "  version integer PRIMARY KEY,"
            "  name text NOT NULL,"
            "  applied_at timestamptz NOT NULL DEFAULT now())");
        int current = txn.ExecScript(
                             "SELECT coalesce(max(version), 0) FROM "
                             "idem.schema_migrations")[0][0]
                          .as<int>();
        MigrationOutcome outcome;
        outcome.schema_version = current;
        for (const Migration& migration : Migrations()) {
          outcome.known_version =
              std::max(outcome.known_version, migration.version);
          if (migration.version <= current) continue;
          txn.ExecScript(migration.sql);
          txn.ExecUnprepared(
              "INSERT INTO idem.schema_migrations (version, name) "
              "VALUES ($1::integer, $2)",
              {std::to_string(migration.version), migration.name});
          outcome.applied.push_back(migration.version);
          outcome.schema_version = migration.version;
        }
        return outcome;
      });
}

}  // namespace idem::db
