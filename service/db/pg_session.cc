#include "service/db/pg_session.h"

#include <pqxx/dbtransaction>
#include <pqxx/prepared_statement>

#include "absl/strings/str_cat.h"

namespace idem::db {

PgSession::PgSession(const std::string& url, StatementMode mode)
    : connection_(url), mode_(mode) {}

void PgSession::BeginTransaction(pqxx::transaction_base& txn) {
  if (transaction_settings_.empty() ||
      dynamic_cast<pqxx::dbtransaction*>(&txn) == nullptr) {
    return;
  }
  txn.exec(transaction_settings_);
}

const std::string& PgSession::Prepared(const std::string& sql) {
  auto it = prepared_.find(sql);
  if (it == prepared_.end()) {
    std::string name = absl::StrCat("idem_", prepared_.size() + 1);
    connection_.prepare(name, sql);
    it = prepared_.emplace(sql, std::move(name)).first;
  }
  return it->second;
}

namespace {

// libpqxx 6.4 takes a variable number of parameters only as an iterator
// range; a null pointer is sent as SQL NULL.
std::vector<const char*> Values(const std::vector<TextParam>& params) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const TextParam& param : params) {
    values.push_back(param.has_value() ? param->c_str() : nullptr);
  }
  return values;
}

}  // namespace

pqxx::result PgSession::Exec(pqxx::transaction_base& txn,
                             const std::string& sql,
                             const std::vector<TextParam>& params) {
  if (mode_ == StatementMode::kUnnamed) {
    return ExecPlannedPerRun(txn, sql, params);
  }
  std::vector<const char*> values = Values(params);
  return txn.exec_prepared(Prepared(sql),
                           pqxx::prepare::make_dynamic_params(values));
}

pqxx::result PgSession::ExecPlannedPerRun(
    pqxx::transaction_base& txn, const std::string& sql,
    const std::vector<TextParam>& params) {
  std::vector<const char*> values = Values(params);
  return txn.exec_params(sql, pqxx::prepare::make_dynamic_params(values));
}

}  // namespace idem::db
