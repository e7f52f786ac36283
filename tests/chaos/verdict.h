#ifndef IDEM_TESTS_CHAOS_VERDICT_H_
#define IDEM_TESTS_CHAOS_VERDICT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "tests/chaos/workload.h"

namespace idem::chaos {

// What the database and the storage root hold, compared with the ledger of
// operations. Each delta is one line of `deltas`; none means exactly once.
struct Check {
  std::vector<std::string> deltas;
  int64_t counters_checked = 0;
  int64_t rows_checked = 0;
  int64_t files_checked = 0;
  int64_t temp_files = 0;
  int64_t transfers_checked = 0;
  // The sum of the transfer counters as read (a delta when it is not
  // kTransferCounters * kTransferOpening).
  int64_t transfer_sum = 0;
};

// `final_check`: every op was acknowledged by now (after the resolution
// pass): counters must equal the number of increments, every row and file
// be there. Otherwise the checks for acknowledged and unacknowledged ops
// separately: acknowledged exactly once, unacknowledged at most once.
Check CheckState(const std::string& database_url,
                 const std::string& storage_root,
                 const std::vector<SourceFile>& sources,
                 const std::vector<Op>& ops, bool final_check);

std::string Sha256OfFile(const std::string& path, bool* ok);

}  // namespace idem::chaos

#endif  // IDEM_TESTS_CHAOS_VERDICT_H_
