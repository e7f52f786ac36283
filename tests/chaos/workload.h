#ifndef IDEM_TESTS_CHAOS_WORKLOAD_H_
#define IDEM_TESTS_CHAOS_WORKLOAD_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "idem/client.h"

namespace idem::chaos {

enum class OpKind {
  kKeyedIncrement,
  kKeyedInsert,
  kPlainInsert,
  kCopy,
  kKeyedCopy,
  kTransfer
};
constexpr int kOpKinds = 6;
const char* OpKindName(OpKind kind);

// A source file in the storage root, prepared before the run.
struct SourceFile {
  std::string path;  // relative to the storage root
  std::string sha256;
};

// Transfers move amounts between these counters (ids 0..n-1), each opened
// with the same value, so their sum never changes.
constexpr int kTransferCounters = 16;
constexpr int64_t kTransferOpening = 1000000;

// A transfer: one keyed transaction that debits one counter, credits
// another and writes a journal row (chaos_transfers) saying so.
struct Transfer {
  int debit = 0;
  int credit = 0;
  int64_t amount = 0;
};

// One logical operation and what the client finally said about it.
struct Op {
  OpKind kind;
  int worker = 0;
  int64_t seq = 0;
  int source = 0;     // copies: index into the sources
  Transfer transfer;  // transfers
  bool acked = false;
  bool replayed = false;  // the acknowledgement came from a stored result
  int attempts = 0;
  // Set when an answer contradicts exactly-once (e.g. a keyed insert that
  // found its own row already there); kept for the verdict.
  std::string anomaly;
};

// Names the workload and the verdict agree on.
std::string RowId(const Op& op);  // primary key of an inserted row
std::string IdempotencyKey(const std::string& run, const Op& op);
std::string Destination(const Op& op);  // CopyFile destination

// A client route: a replica directly, through a fault proxy, or through the
// network namespace.
struct Route {
  std::string name;
  Client client;
};

struct WorkloadCounters {
  std::atomic<int64_t> issued{0};
  std::atomic<int64_t> retries{0};  // sum of attempts - 1
};

// Sends one operation (the same request, and key, every time it is called
// for the same op) and records the outcome in `op`.
void Execute(const std::string& run, const std::vector<SourceFile>& sources,
             const Client& client, Op& op, std::map<std::string, int>* errors);

}  // namespace idem::chaos

#endif  // IDEM_TESTS_CHAOS_WORKLOAD_H_
