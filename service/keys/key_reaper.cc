#include "service/keys/key_reaper.h"

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "service/common/error_reason.h"
#include "service/db/transaction.h"
#include "service/observability/log.h"

namespace idem::keys {
namespace {

// Distinct tenants by skipping through the primary key's index, one probe
// per tenant instead of a scan of every key.
constexpr char kTenantsSql[] = R"sql(
WITH RECURSIVE t(tenant) AS (
  (SELECT tenant FROM idem.idempotency_keys ORDER BY tenant LIMIT 1)
  UNION ALL
  SELECT (SELECT k.tenant FROM idem.idempotency_keys k
          WHERE k.tenant > t.tenant ORDER BY k.tenant LIMIT 1)
  FROM t WHERE t.tenant IS NOT NULL)
SELECT tenant FROM t WHERE tenant IS NOT NULL
)sql";

// Records without a tombstone past their expiry, oldest first.
constexpr char kDeleteExpiredSql[] = R"sql(
DELETE FROM idem.idempotency_keys k
USING (SELECT tenant, idempotency_key FROM idem.idempotency_keys
       WHERE tenant = $1 AND tombstone_until IS NULL AND expires_at <= now()
       ORDER BY expires_at LIMIT $2::integer
       FOR UPDATE SKIP LOCKED) expired
WHERE k.tenant = expired.tenant
  AND k.idempotency_key = expired.idempotency_key
)sql";

// Tombstones past theirs.
constexpr char kDeleteTombstonesSql[] = R"sql(
DELETE FROM idem.idempotency_keys k
USING (SELECT tenant, idempotency_key FROM idem.idempotency_keys
       WHERE tenant = $1 AND state = 2 AND tombstone_until IS NOT NULL
         AND tombstone_until <= now()
       ORDER BY tombstone_until LIMIT $2::integer
       FOR UPDATE SKIP LOCKED) expired
WHERE k.tenant = expired.tenant
  AND k.idempotency_key = expired.idempotency_key
)sql";

// Tombstones still holding their expired answer: only the fingerprint,
// first execution and outcome code stay.
constexpr char kSlimBatchSql[] = R"sql(
UPDATE idem.idempotency_keys k
SET response = NULL, status_message = NULL, status_details = NULL
FROM (SELECT tenant, idempotency_key FROM idem.idempotency_keys
      WHERE tenant = $1 AND expires_at <= now()
        AND (response IS NOT NULL OR status_message IS NOT NULL)
      ORDER BY expires_at LIMIT $2::integer
      FOR UPDATE SKIP LOCKED) expired
WHERE k.tenant = expired.tenant
  AND k.idempotency_key = expired.idempotency_key
)sql";

// The most pages of the key table that a pass reads to count its keys:
// 10,000 pages (80 MB) hold about 450,000 keys. Up to that the count is
// exact; beyond, it is estimated from that many pages picked at random, so
// that a pass costs the same however large the table grows.
constexpr int kCountPages = 10000;

// The percentage of the table's pages that a count reads: 100 up to
// kCountPages ($1).
constexpr char kSamplePercentSql[] = R"sql(
SELECT least(100, 100.0 * $1::integer / greatest(1,
  pg_relation_size('idem.idempotency_keys')
    / current_setting('block_size')::bigint))
)sql";

// Live records by state, from $1 percent of the table's pages picked at
// random (TABLESAMPLE SYSTEM: all of them at 100), scaled to the table.
constexpr char kCountSql[] = R"sql(
SELECT (count(*) FILTER (WHERE state = 1 AND expires_at > now())
          * 100 / $1::real)::bigint,
       (count(*) FILTER (WHERE state = 2 AND expires_at > now())
          * 100 / $1::real)::bigint,
       (count(*) FILTER (WHERE state = 2 AND expires_at <= now()
                           AND tombstone_until > now())
          * 100 / $1::real)::bigint
FROM idem.idempotency_keys TABLESAMPLE SYSTEM ($1::real)
)sql";

absl::StatusOr<KeyReaper::KeyCounts> CountKeys(db::ConnectionPool& pool) {
  return db::RunInTransaction(
      pool, [](db::Transaction& txn) -> absl::StatusOr<KeyReaper::KeyCounts> {
        const std::string percent =
            txn.ExecUnprepared(kSamplePercentSql,
                               {absl::StrCat(kCountPages)})[0][0]
                .c_str();
        const pqxx::row counts = txn.ExecUnprepared(kCountSql, {percent})[0];
        return KeyReaper::KeyCounts{counts[0].as<int64_t>(),
                                    counts[1].as<int64_t>(),
                                    counts[2].as<int64_t>()};
      });
}

// Runs `sql` (one batch of `tenant`'s records) until a batch is short;
// returns how many records it changed.
absl::StatusOr<int64_t> InBatches(db::ConnectionPool& pool, const char* sql,
                                  const std::string& tenant, int batch) {
  int64_t changed = 0;
  while (true) {
    absl::StatusOr<int64_t> done = db::RunInTransaction(
        pool, [&](db::Transaction& txn) -> absl::StatusOr<int64_t> {
          return txn.ExecUnprepared(sql, {tenant, absl::StrCat(batch)})
              .affected_rows();
        });
    if (!done.ok()) return done.status();
    changed += *done;
    if (*done < batch) return changed;
  }
}

}  // namespace

KeyReaper::KeyReaper(db::ConnectionPool& pool, absl::Duration interval,
                     int batch, std::function<void(const Pass&)> on_pass)
    : pool_(pool),
      interval_(interval),
      batch_(batch),
      on_pass_(std::move(on_pass)),
      thread_([this] { Run(); }) {}

KeyReaper::~KeyReaper() {
  stop_.Notify();
  thread_.join();
}

absl::StatusOr<KeyReaper::Pass> KeyReaper::RunOnce(db::ConnectionPool& pool,
                                                   int batch) {
  absl::StatusOr<std::vector<std::string>> tenants = db::RunInTransaction(
      pool,
      [](db::Transaction& txn) -> absl::StatusOr<std::vector<std::string>> {
        std::vector<std::string> names;
        for (const pqxx::row& row : txn.ExecUnprepared(kTenantsSql, {})) {
          names.push_back(row[0].c_str());
        }
        return names;
      });
  if (!tenants.ok()) return tenants.status();
  int64_t deleted = 0;
  for (const std::string& tenant : *tenants) {
    for (const char* sql : {kDeleteExpiredSql, kDeleteTombstonesSql}) {
      absl::StatusOr<int64_t> removed = InBatches(pool, sql, tenant, batch);
      if (!removed.ok()) return removed.status();
      deleted += *removed;
    }
    absl::StatusOr<int64_t> slimmed =
        InBatches(pool, kSlimBatchSql, tenant, batch);
    if (!slimmed.ok()) return slimmed.status();
  }
  absl::StatusOr<KeyCounts> counts = CountKeys(pool);
  if (!counts.ok()) return counts.status();
  return Pass{deleted, *counts};
}

void KeyReaper::Run() {
  while (!stop_.WaitForNotificationWithTimeout(interval_)) {
    absl::StatusOr<Pass> pass = RunOnce(pool_, batch_);
    if (!pass.ok()) {
      nlohmann::json fields = {{"message", pass.status().message()}};
      if (std::optional<std::string> cause = OperatorCauseOf(pass.status())) {
        fields["cause"] = *std::move(cause);
      }
      log::Warn("reaper", std::move(fields));
      continue;
    }
    on_pass_(*pass);
    if (pass->deleted > 0) log::Info("reaper", {{"deleted", pass->deleted}});
  }
}

}  // namespace idem::keys
