#include "service/keys/key_reaper.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
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

constexpr char kDeleteBatchSql[] = R"sql(
DELETE FROM idem.idempotency_keys k
USING (SELECT tenant, idempotency_key FROM idem.idempotency_keys
       WHERE tenant = $1 AND expires_at <= now()
       ORDER BY expires_at LIMIT $2::integer
       FOR UPDATE SKIP LOCKED) expired
WHERE k.tenant = expired.tenant
  AND k.idempotency_key = expired.idempotency_key
)sql";

}  // namespace

KeyReaper::KeyReaper(db::ConnectionPool& pool, absl::Duration interval,
                     int batch, std::function<void(int64_t)> on_deleted)
    : pool_(pool),
      interval_(interval),
      batch_(batch),
      on_deleted_(std::move(on_deleted)),
      thread_([this] { Run(); }) {}

KeyReaper::~KeyReaper() {
  stop_.Notify();
  thread_.join();
}

absl::StatusOr<int64_t> KeyReaper::RunOnce(db::ConnectionPool& pool,
                                           int batch) {
  absl::StatusOr<std::vector<std::string>> tenants = db::RunInTransaction(
      pool,
      [](db::Transaction& txn) -> absl::StatusOr<std::vector<std::string>> {
        std::vector<std::string> names;
        for (const pqxx::row& row : txn.ExecPlannedPerRun(kTenantsSql, {})) {
          names.push_back(row[0].c_str());
        }
        return names;
      });
  if (!tenants.ok()) return tenants.status();
  int64_t deleted = 0;
  for (const std::string& tenant : *tenants) {
    while (true) {
      absl::StatusOr<int64_t> removed = db::RunInTransaction(
          pool, [&](db::Transaction& txn) -> absl::StatusOr<int64_t> {
            return txn
                .ExecPlannedPerRun(kDeleteBatchSql,
                                   {tenant, absl::StrCat(batch)})
                .affected_rows();
          });
      if (!removed.ok()) return removed.status();
      deleted += *removed;
      if (*removed < batch) break;
    }
  }
  return deleted;
}

void KeyReaper::Run() {
  while (!stop_.WaitForNotificationWithTimeout(interval_)) {
    absl::StatusOr<int64_t> deleted = RunOnce(pool_, batch_);
    if (!deleted.ok()) {
      log::Warn("reaper", {{"message", deleted.status().message()}});
      continue;
    }
    on_deleted_(*deleted);
    if (*deleted > 0) log::Info("reaper", {{"deleted", *deleted}});
  }
}

}  // namespace idem::keys
