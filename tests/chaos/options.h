#ifndef IDEM_TESTS_CHAOS_OPTIONS_H_
#define IDEM_TESTS_CHAOS_OPTIONS_H_

#include <cstdint>
#include <string>

namespace idem::chaos {

// Settings of one chaos run (command line of idem_chaos; scripts/chaos sets
// them).
struct Options {
  int64_t ops = 2000;         // at least this many logical operations
  int min_faults = 10;        // at least this many faults of every kind
  int min_failovers = 0;      // ... but failovers, which need standby_dir
  int max_seconds = 150;      // the workload phase never runs longer
  int workers = 6;            // client threads
  uint64_t seed = 0;          // 0: from the clock
  std::string server_binary;  // idem-server
  std::string pg_local;       // scripts/pg-local
  std::string pg_dir;         // the primary's folder (for crash/restart)
  std::string standby_dir;    // its synchronous standby's; empty: none
  std::string database_url;
  std::string storage_root;
  // Tag of the run's network namespace (NetworkNamespace::Create); empty:
  // none, the proxies only.
  std::string netns;
  std::string pid_file;  // replica pids, for the script's cleanup
};

// Parses --name=value / --name value; returns false (with a message on
// stderr) on a bad command line.
bool ParseOptions(int argc, char** argv, Options* options);

}  // namespace idem::chaos

#endif  // IDEM_TESTS_CHAOS_OPTIONS_H_
