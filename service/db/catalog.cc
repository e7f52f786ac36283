#include "service/db/catalog.h"

#include "absl/strings/str_cat.h"
#include "service/common/error_reason.h"
#include "service/db/identifiers.h"
#include "service/db/transaction.h"

namespace idem::db {
namespace {

constexpr char kRelationSql[] = R"sql(
SELECT c.oid, n.nspname, c.relname, c.relkind = 'p',
       c.relrowsecurity OR EXISTS (
         SELECT 1 FROM pg_catalog.pg_trigger tg
         WHERE tg.tgrelid = c.oid AND NOT tg.tgisinternal
           AND tg.tgtype & 3 = 3     -- ROW and BEFORE
           AND tg.tgtype & 20 <> 0)  -- INSERT or UPDATE
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.oid = pg_catalog.to_regclass($1) AND c.relkind IN ('r', 'p')
)sql";

constexpr char kColumnsSql[] = R"sql(
SELECT a.attname,
       pg_catalog.format_type(a.atttypid,
         CASE WHEN CASE WHEN t.typcategory = 'A' THEN t.typelem ELSE t.oid END
                   IN ('bpchar'::pg_catalog.regtype,
                       'varchar'::pg_catalog.regtype,
                       'bit'::pg_catalog.regtype,
                       'varbit'::pg_catalog.regtype)
              THEN -1 ELSE a.atttypmod END),
       pg_catalog.format_type(a.atttypid, -1),
       pg_catalog.format_type(a.atttypid, a.atttypmod),
       bt.typname, bt.typcategory, a.attnotnull,
       a.attgenerated <> '' OR a.attidentity = 'a',
       CASE WHEN NOT co.collisdeterministic
            THEN pg_catalog.quote_ident(cn.nspname) || '.' ||
                 pg_catalog.quote_ident(co.collname)
            ELSE '' END,
       CASE WHEN bt.oid IN ('bpchar'::pg_catalog.regtype,
                            'varchar'::pg_catalog.regtype,
                            'bit'::pg_catalog.regtype,
                            'varbit'::pg_catalog.regtype)
            THEN CASE WHEN t.typtype = 'd' THEN t.typtypmod
                      ELSE a.atttypmod END
            ELSE -1 END
FROM pg_catalog.pg_attribute a
JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
JOIN pg_catalog.pg_type bt
  ON bt.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
LEFT JOIN pg_catalog.pg_collation co ON co.oid = a.attcollation
LEFT JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace
WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum
)sql";

// The key's columns, not those it only INCLUDEs (past indnkeyatts), and
// whether it is DEFERRABLE. The constraint is found by its table
// (pg_constraint's conrelid index), not by its index alone, which no
// catalog index covers: on a database of many tables that scan took
// 200 ms, on every miss and every refresh of every table.
constexpr char kPrimaryKeySql[] = R"sql(
SELECT a.attname, con.condeferrable
FROM pg_catalog.pg_index i
CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, position)
JOIN pg_catalog.pg_attribute a
  ON a.attrelid = i.indrelid AND a.attnum = k.attnum
JOIN pg_catalog.pg_constraint con
  ON con.conrelid = i.indrelid AND con.conindid = i.indexrelid
 AND con.contype = 'p'
WHERE i.indrelid = $1 AND i.indisprimary AND k.position <= i.indnkeyatts
ORDER BY k.position
)sql";

absl::string_view BareName(absl::string_view name) {
  size_t dot = name.rfind('.');
  return dot == absl::string_view::npos ? name : name.substr(dot + 1);
}

}  // namespace

std::optional<size_t> Table::FindColumn(absl::string_view column) const {
  for (size_t i = 0; i < columns.size(); ++i) {
    if (columns[i].name == column) return i;
  }
  return std::nullopt;
}

bool Table::IsKeyColumn(size_t index) const {
  for (size_t k : primary_key) {
    if (k == index) return true;
  }
  return false;
}

bool operator==(const Column& a, const Column& b) {
  return a.name == b.name && a.type == b.type &&
         a.unmodified_type == b.unmodified_type &&
         a.declared_type == b.declared_type && a.type_name == b.type_name &&
         a.category == b.category && a.not_null == b.not_null &&
         a.generated == b.generated &&
         a.nondeterministic_collation == b.nondeterministic_collation &&
         a.length_typmod == b.length_typmod;
}

bool operator==(const Table& a, const Table& b) {
  return a.name == b.name && a.sql_name == b.sql_name &&
         a.columns == b.columns && a.primary_key == b.primary_key &&
         a.primary_key_deferrable == b.primary_key_deferrable &&
         a.partitioned == b.partitioned &&
         a.rows_may_change_unseen == b.rows_may_change_unseen;
}

Catalog::Catalog(ConnectionPool& pool, std::vector<std::string> allowed_tables)
    : pool_(pool), allowed_(std::move(allowed_tables)) {}

absl::Status Catalog::LoadAll() {
  for (const std::string& entry : allowed_) {
    absl::StatusOr<std::shared_ptr<const Table>> table = LoadEntry(entry);
    if (!table.ok() && table.status().code() != absl::StatusCode::kNotFound) {
      return table.status();
    }
  }
  return absl::OkStatus();
}

std::optional<std::string> Catalog::MatchEntry(
    absl::string_view requested) const {
  // An entry matches as written, by its loaded schema.name, or by its bare
  // name when no other allowed table shares that name.
  std::optional<std::string> by_bare_name;
  int bare_matches = 0;
  for (const std::string& entry : allowed_) {
    if (entry == requested) return entry;
    auto it = tables_.find(entry);
    absl::string_view loaded =
        it != tables_.end() ? absl::string_view(it->second->name) : entry;
    if (loaded == requested) return entry;
    if (requested.find('.') == absl::string_view::npos &&
        BareName(loaded) == requested) {
      by_bare_name = entry;
      ++bare_matches;
    }
  }
  if (bare_matches == 1) return by_bare_name;
  return std::nullopt;
}

absl::StatusOr<std::shared_ptr<const Table>> Catalog::Find(
    absl::string_view requested) {
  Found found = Lookup(requested);
  if (!found.entry.has_value() && LoadMissing()) {
    // A table created since start is known by its schema.name only once
    // loaded, and then by what LoadMissing loaded.
    found = Lookup(requested);
  }
  if (found.table != nullptr) return found.table;
  if (!found.entry.has_value()) {
    return Error(
        Reason::kTableNotAllowed,
        absl::StrCat("table \"", requested, "\" is not exposed by this server"),
        {{"table", requested}});
  }
  return LoadEntry(*found.entry);
}

std::shared_ptr<const Table> Catalog::FindLoaded(
    absl::string_view requested) const {
  return Lookup(requested).table;
}

Catalog::Found Catalog::Lookup(absl::string_view requested) const {
  absl::ReaderMutexLock lock(&mu_);
  Found found{MatchEntry(requested), nullptr};
  if (found.entry.has_value()) {
    auto it = tables_.find(*found.entry);
    if (it != tables_.end()) found.table = it->second;
  }
  return found;
}

bool Catalog::LoadMissing() {
  std::vector<std::string> missing;
  {
    absl::ReaderMutexLock lock(&mu_);
    for (const std::string& entry : allowed_) {
      if (tables_.count(entry) == 0) missing.push_back(entry);
    }
  }
  bool loaded = false;
  for (const std::string& entry : missing) loaded |= LoadEntry(entry).ok();
  return loaded;
}

absl::StatusOr<std::shared_ptr<const Table>> Catalog::Reload(
    const Table& table) {
  std::optional<std::string> entry;
  {
    absl::ReaderMutexLock lock(&mu_);
    entry = MatchEntry(table.name);
  }
  if (!entry.has_value()) {
    return Error(Reason::kTableNotAllowed,
                 absl::StrCat("table \"", table.name,
                              "\" is not exposed by this server"),
                 {{"table", table.name}});
  }
  return LoadEntry(*entry);
}

std::vector<std::string> Catalog::RefreshLoaded() {
  std::vector<std::pair<std::string, std::shared_ptr<const Table>>> loaded;
  {
    absl::ReaderMutexLock lock(&mu_);
    loaded.assign(tables_.begin(), tables_.end());
  }
  std::vector<std::string> changed;
  for (const auto& [entry, table] : loaded) {
    absl::StatusOr<std::shared_ptr<const Table>> now = ReadEntry(entry);
    const bool gone =
        !now.ok() && now.status().code() == absl::StatusCode::kNotFound;
    if (!now.ok() && !gone) continue;  // unreadable now: try again later
    if (!gone && **now == *table) continue;
    absl::MutexLock lock(&mu_);
    auto it = tables_.find(entry);
    // A request reloaded it meanwhile, with what is newer than this read.
    if (it == tables_.end() || it->second != table) continue;
    if (gone) {
      tables_.erase(it);
    } else {
      it->second = *now;
    }
    changed.push_back(entry);
  }
  return changed;
}

absl::StatusOr<std::shared_ptr<const Table>> Catalog::LoadEntry(
    const std::string& entry) {
  absl::StatusOr<std::shared_ptr<const Table>> loaded = ReadEntry(entry);
  if (loaded.ok()) {
    absl::MutexLock lock(&mu_);
    tables_[entry] = *loaded;
  }
  return loaded;
}

absl::StatusOr<std::shared_ptr<const Table>> Catalog::ReadEntry(
    const std::string& entry) {
  return RunInTransaction(
      pool_,
      [&](Transaction& txn) -> absl::StatusOr<std::shared_ptr<const Table>> {
        pqxx::result relation = txn.ExecUnprepared(kRelationSql, {entry});
        if (relation.empty()) {
          return Error(Reason::kTableNotFound,
                       absl::StrCat("table \"", entry, "\" does not exist"),
                       {{"table", entry}});
        }
        auto oid = relation[0][0].as<unsigned>();
        auto table = std::make_shared<Table>();
        table->name =
            absl::StrCat(relation[0][1].c_str(), ".", relation[0][2].c_str());
        table->sql_name =
            absl::StrCat(QuoteIdentifier(relation[0][1].c_str()), ".",
                         QuoteIdentifier(relation[0][2].c_str()));
        table->partitioned = relation[0][3].as<bool>();
        table->rows_may_change_unseen = relation[0][4].as<bool>();
        for (const pqxx::row& row :
             txn.ExecUnprepared(kColumnsSql, {std::to_string(oid)})) {
          Column column;
          column.name = row[0].c_str();
          column.type = row[1].c_str();
          column.unmodified_type = row[2].c_str();
          column.declared_type = row[3].c_str();
          column.type_name = row[4].c_str();
          column.category = row[5].c_str()[0];
          column.not_null = row[6].as<bool>();
          column.generated = row[7].as<bool>();
          column.nondeterministic_collation =
              row[8].is_null() ? "" : row[8].c_str();
          column.length_typmod = row[9].as<int32_t>();
          table->columns.push_back(std::move(column));
        }
        for (const pqxx::row& row :
             txn.ExecUnprepared(kPrimaryKeySql, {std::to_string(oid)})) {
          table->primary_key.push_back(*table->FindColumn(row[0].c_str()));
          table->primary_key_deferrable = row[1].as<bool>();
        }
        return std::shared_ptr<const Table>(std::move(table));
      });
}

}  // namespace idem::db
