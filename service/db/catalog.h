#ifndef IDEM_SERVICE_DB_CATALOG_H_
#define IDEM_SERVICE_DB_CATALOG_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "service/db/connection_pool.h"

namespace idem::db {

struct Column {
  std::string name;
  // What a value's parameter is cast to: the column's type with its
  // precision or scale (numeric(10,2), timestamptz(0)), so that the value is
  // compared as the column stores it, but without a length (char(n),
  // varchar(n), bit(n)), so that a value too long fails on assignment
  // instead of being cut by the cast. Unlike format_type(oid, NULL), whose
  // "character" and "bit" would cast to one character or bit.
  std::string type;
  // format_type(oid, -1): an increment's delta, which is no value of the
  // column and must not be rounded to its scale before it is added.
  std::string unmodified_type;
  // format_type(oid, typmod): the type as declared, with its length
  // ("character varying(3)", "numeric(5,2)"), as PostgreSQL names it when
  // it refuses a value for it.
  std::string declared_type;
  std::string type_name;  // pg_type.typname, e.g. "int8", "bytea", "json"
  char category = 'X';    // pg_type.typcategory: 'N' numeric, 'B' bool, ...
  bool not_null = false;
  // GENERATED ALWAYS (a stored expression, or an identity column that
  // takes no value but its own): never written by idem.
  bool generated = false;
  // The column's collation ("schema"."name") when it is nondeterministic
  // (case- or accent-insensitive), so that values compare as the column
  // compares them: two spellings may be one key. Empty otherwise.
  std::string nondeterministic_collation;
  // The length of varchar(n), char(n), bit(n) or varbit(n), or of such a
  // domain's base type, as its typmod; -1 for every other type. `type`
  // leaves it out; the statements apply it as an assignment does
  // (AssignedValue in sql_fragments.h).
  int32_t length_typmod = -1;

  friend bool operator==(const Column& a, const Column& b);
};

// An allow-listed table as the catalog described it when it was loaded.
struct Table {
  std::string name;      // schema.name, for messages
  std::string sql_name;  // "schema"."name", for statements
  std::vector<Column> columns;
  std::vector<size_t> primary_key;  // indexes into columns, in key order
  // INSERT ... ON CONFLICT cannot use a DEFERRABLE key as its arbiter.
  bool primary_key_deferrable = false;
  // A partitioned table shows no xmax, which tells an inserted row from an
  // updated one.
  bool partitioned = false;
  // A BEFORE ROW trigger may change a row's key or skip the row, and
  // row-level security may hide the row a conflict met: an Insert may then
  // find no outcome for a row.
  bool rows_may_change_unseen = false;

  // Index of the column called `name`, if any.
  std::optional<size_t> FindColumn(absl::string_view column) const;
  bool IsKeyColumn(size_t index) const;

  // Equal when every statement built for one fits the other.
  friend bool operator==(const Table& a, const Table& b);
};

// The shapes of the allow-listed tables. Loaded at start and
// reloaded for one table on a miss (a table created or altered since), never
// per request.
class Catalog {
 public:
  Catalog(ConnectionPool& pool, std::vector<std::string> allowed_tables);

  // Loads every allow-listed table that exists; one that does not yet is
  // loaded on first use. Fails only when the database cannot be read.
  absl::Status LoadAll();

  // The table a request names, as "schema.name" or "name".
  // PERMISSION_DENIED: not allow-listed; NOT_FOUND: allow-listed but absent.
  absl::StatusOr<std::shared_ptr<const Table>> Find(
      absl::string_view requested);

  // The table a request names when it is loaded; null when it is not
  // (not allow-listed, absent, or not loaded yet). Never reads the
  // database, so that a thread which must not wait may call it.
  std::shared_ptr<const Table> FindLoaded(absl::string_view requested) const;

  // Reloads `table` after a request found the catalog out of date.
  absl::StatusOr<std::shared_ptr<const Table>> Reload(const Table& table);

  // Reads every loaded table again and replaces those whose definition
  // changed since (a column's type or nullability, the primary key, a
  // column added or dropped), or drops them when they are gone; returns
  // their allow-list entries. Tables that did not change keep their
  // objects, so that the statements built for them stay cached.
  std::vector<std::string> RefreshLoaded();

 private:
  // The allow-list entry a request names, if any, and its table when
  // loaded.
  struct Found {
    std::optional<std::string> entry;
    std::shared_ptr<const Table> table;
  };
  Found Lookup(absl::string_view requested) const ABSL_LOCKS_EXCLUDED(mu_);
  // The allow-list entry a request names, if any.
  std::optional<std::string> MatchEntry(absl::string_view requested) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  absl::StatusOr<std::shared_ptr<const Table>> LoadEntry(
      const std::string& entry);
  // The table `entry` names, as the database now defines it.
  absl::StatusOr<std::shared_ptr<const Table>> ReadEntry(
      const std::string& entry);
  // Loads the allow-listed tables not loaded yet; true when any now is.
  // Runs only when a request names no known table.
  bool LoadMissing();

  ConnectionPool& pool_;
  const std::vector<std::string> allowed_;
  mutable absl::Mutex mu_;
  // Allow-list entry -> loaded table (absent until it exists).
  std::map<std::string, std::shared_ptr<const Table>, std::less<>> tables_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace idem::db

#endif  // IDEM_SERVICE_DB_CATALOG_H_
