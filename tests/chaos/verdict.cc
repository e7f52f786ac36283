#include "tests/chaos/verdict.h"

#include <openssl/evp.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <pqxx/nontransaction>
#include <pqxx/pqxx>
#include <set>
#include <tuple>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace idem::chaos {
namespace {

namespace fs = std::filesystem;

struct StoredRow {
  int worker;
  int64_t seq;
  std::string payload;
};

std::map<std::string, StoredRow> ReadRows(pqxx::nontransaction& txn,
                                          const std::string& table,
                                          std::vector<std::string>* deltas) {
  std::map<std::string, StoredRow> rows;
  for (const pqxx::row& r :
       txn.exec("SELECT id, worker, seq, payload FROM " + table)) {
    const std::string id = r[0].c_str();
    if (!rows.emplace(id, StoredRow{r[1].as<int>(), r[2].as<int64_t>(),
                                    r[3].c_str()})
             .second) {
      deltas->push_back(absl::StrCat(table, ": row ", id, " twice"));
    }
  }
  return rows;
}

void CheckRows(const std::string& table, OpKind kind,
               std::map<std::string, StoredRow> rows,
               const std::vector<Op>& ops, Check* check) {
  for (const Op& op : ops) {
    if (op.kind != kind) continue;
    ++check->rows_checked;
    auto it = rows.find(RowId(op));
    if (it == rows.end()) {
      if (op.acked) {
        check->deltas.push_back(absl::StrCat(table, ": acknowledged row ",
                                             RowId(op), " missing (lost)"));
      }
      continue;
    }
    const StoredRow& row = it->second;
    if (row.worker != op.worker || row.seq != op.seq ||
        row.payload != absl::StrCat("p", op.seq * 31)) {
      check->deltas.push_back(
          absl::StrCat(table, ": row ", RowId(op), " has other values"));
    }
    rows.erase(it);
  }
  for (const auto& [id, row] : rows) {
    check->deltas.push_back(
        absl::StrCat(table, ": extra row ", id, " that no operation wrote"));
  }
}

void CheckCounters(pqxx::nontransaction& txn, const std::vector<Op>& ops,
                   Check* check) {
  std::map<int, std::pair<int64_t, int64_t>> expected;  // acked, unacked
  for (const Op& op : ops) {
    if (op.kind != OpKind::kKeyedIncrement) continue;
    auto& [acked, unacked] = expected[op.worker];
    ++(op.acked ? acked : unacked);
  }
  for (const pqxx::row& r :
       txn.exec("SELECT worker, value FROM chaos_counters")) {
    const int worker = r[0].as<int>();
    const int64_t value = r[1].as<int64_t>();
    const auto [acked, unacked] = expected[worker];
    ++check->counters_checked;
    if (value < acked) {
      check->deltas.push_back(
          absl::StrCat("counter ", worker, ": ", value, " < ", acked,
                       " acknowledged increments (", acked - value, " lost)"));
    } else if (value > acked + unacked) {
      check->deltas.push_back(absl::StrCat(
          "counter ", worker, ": ", value, " > ", acked, " acknowledged + ",
          unacked, " unacknowledged (", value - acked - unacked, " doubled)"));
    }
  }
}

// Every acknowledged transfer's journal row present (at most once: primary
// key), no row that no transfer wrote, every counter at its opening value
// plus what the journal says moved (a transfer applied twice, or its
// counters without its journal row, breaks this), and their sum unchanged.
void CheckTransfers(pqxx::nontransaction& txn, const std::vector<Op>& ops,
                    Check* check) {
  std::map<std::string, Transfer> journal;
  std::map<int, int64_t> moved;
  for (const pqxx::row& r :
       txn.exec("SELECT id, debit, credit, amount FROM chaos_transfers")) {
    Transfer t{r[1].as<int>(), r[2].as<int>(), r[3].as<int64_t>()};
    moved[t.debit] -= t.amount;
    moved[t.credit] += t.amount;
    journal.emplace(r[0].c_str(), t);
  }
  for (const Op& op : ops) {
    if (op.kind != OpKind::kTransfer) continue;
    ++check->transfers_checked;
    auto it = journal.find(RowId(op));
    if (it == journal.end()) {
      if (op.acked) {
        check->deltas.push_back(absl::StrCat(
            "transfer ", RowId(op), ": acknowledged, journal row missing"));
      }
      continue;
    }
    const Transfer& t = it->second;
    if (t.debit != op.transfer.debit || t.credit != op.transfer.credit ||
        t.amount != op.transfer.amount) {
      check->deltas.push_back(
          absl::StrCat("transfer ", RowId(op), ": journal row differs"));
    }
    journal.erase(it);
  }
  for (const auto& [id, t] : journal) {
    check->deltas.push_back(
        absl::StrCat("transfer journal: extra row ", id, " no transfer sent"));
  }
  for (const pqxx::row& r :
       txn.exec("SELECT id, value FROM chaos_transfer_counters")) {
    const int id = r[0].as<int>();
    const int64_t value = r[1].as<int64_t>();
    check->transfer_sum += value;
    if (value != kTransferOpening + moved[id]) {
      check->deltas.push_back(absl::StrCat("transfer counter ", id, ": ", value,
                                           ", but its journal says ",
                                           kTransferOpening + moved[id],
                                           " (a transfer applied twice or in "
                                           "part)"));
    }
  }
  const int64_t opening = int64_t{kTransferCounters} * kTransferOpening;
  if (check->transfer_sum != opening) {
    check->deltas.push_back(absl::StrCat("sum of all transfer counters ",
                                         check->transfer_sum, " != ", opening,
                                         " before the run"));
  }
}

void CheckFiles(const std::string& root, const std::vector<SourceFile>& sources,
                const std::vector<Op>& ops, bool final_check, Check* check) {
  std::set<std::string> destinations;
  for (const Op& op : ops) {
    if (op.kind != OpKind::kCopy && op.kind != OpKind::kKeyedCopy) continue;
    ++check->files_checked;
    const std::string path = root + "/" + Destination(op);
    destinations.insert(path);
    std::error_code error;
    if (!fs::exists(path, error)) {
      if (op.acked) {
        check->deltas.push_back(
            absl::StrCat("copy: acknowledged ", Destination(op), " missing"));
      }
      continue;
    }
    bool ok = false;
    if (Sha256OfFile(path, &ok) != sources[op.source].sha256 || !ok) {
      check->deltas.push_back(absl::StrCat(
          "copy: ", Destination(op), " is not whole (sha256 differs from ",
          sources[op.source].path, ")"));
    }
  }
  std::error_code error;
  for (fs::recursive_directory_iterator it(root + "/dst", error), end;
       !error && it != end; it.increment(error)) {
    if (!it->is_regular_file()) continue;
    const std::string path = it->path().string();
    if (destinations.count(path) != 0) continue;
    if (it->path().filename().string().rfind(".idem-tmp.", 0) == 0) {
      ++check->temp_files;
      if (final_check) {
        check->deltas.push_back(absl::StrCat("copy: temporary file left: ",
                                             path.substr(root.size() + 1)));
      }
    } else {
      check->deltas.push_back(
          absl::StrCat("copy: unexpected file ", path.substr(root.size() + 1)));
    }
  }
}

}  // namespace

std::string Sha256OfFile(const std::string& path, bool* ok) {
  std::ifstream in(path, std::ios::binary);
  EVP_MD_CTX* context = EVP_MD_CTX_new();
  EVP_DigestInit_ex(context, EVP_sha256(), nullptr);
  char buffer[1 << 16];
  while (in.read(buffer, sizeof(buffer)) || in.gcount() > 0) {
    EVP_DigestUpdate(context, buffer, static_cast<size_t>(in.gcount()));
  }
  *ok = in.eof();
  unsigned char digest[32];
  unsigned int length = 0;
  EVP_DigestFinal_ex(context, digest, &length);
  EVP_MD_CTX_free(context);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), length));
}

Check CheckState(const std::string& database_url,
                 const std::string& storage_root,
                 const std::vector<SourceFile>& sources,
                 const std::vector<Op>& ops, bool final_check) {
  Check check;
  try {
    pqxx::connection connection(database_url);
    pqxx::nontransaction txn(connection);
    CheckCounters(txn, ops, &check);
    CheckRows("chaos_keyed_rows", OpKind::kKeyedInsert,
              ReadRows(txn, "chaos_keyed_rows", &check.deltas), ops, &check);
    CheckRows("chaos_plain_rows", OpKind::kPlainInsert,
              ReadRows(txn, "chaos_plain_rows", &check.deltas), ops, &check);
    CheckTransfers(txn, ops, &check);
  } catch (const std::exception& e) {
    check.deltas.push_back(
        absl::StrCat("cannot read the database: ", e.what()));
  }
  CheckFiles(storage_root, sources, ops, final_check, &check);
  for (const Op& op : ops) {
    if (!op.anomaly.empty()) {
      check.deltas.push_back(
          absl::StrCat(OpKindName(op.kind), " ", RowId(op), ": ", op.anomaly));
    }
    if (final_check && !op.acked) {
      check.deltas.push_back(absl::StrCat(OpKindName(op.kind), " ", RowId(op),
                                          ": never acknowledged"));
    }
  }
  return check;
}

}  // namespace idem::chaos
