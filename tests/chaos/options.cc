#include "tests/chaos/options.h"

#include <cstdlib>
#include <functional>
#include <iostream>
#include <map>

#include "absl/strings/numbers.h"

namespace idem::chaos {
namespace {

std::function<bool(const std::string&)> Int(int64_t* out) {
  return [out](const std::string& v) { return absl::SimpleAtoi(v, out); };
}
std::function<bool(const std::string&)> Int(int* out) {
  return [out](const std::string& v) { return absl::SimpleAtoi(v, out); };
}
std::function<bool(const std::string&)> Uint(uint64_t* out) {
  return [out](const std::string& v) { return absl::SimpleAtoi(v, out); };
}
std::function<bool(const std::string&)> Text(std::string* out) {
  return [out](const std::string& v) {
    *out = v;
    return true;
  };
}

}  // namespace

bool ParseOptions(int argc, char** argv, Options* o) {
  const std::map<std::string, std::function<bool(const std::string&)>> flags = {
      {"ops", Int(&o->ops)},
      {"min-faults", Int(&o->min_faults)},
      {"min-failovers", Int(&o->min_failovers)},
      {"seconds", Int(&o->max_seconds)},
      {"workers", Int(&o->workers)},
      {"seed", Uint(&o->seed)},
      {"server-binary", Text(&o->server_binary)},
      {"pg-local", Text(&o->pg_local)},
      {"pg-dir", Text(&o->pg_dir)},
      {"standby-dir", Text(&o->standby_dir)},
      {"database-url", Text(&o->database_url)},
      {"storage-root", Text(&o->storage_root)},
      {"netns", Text(&o->netns)},
      {"pid-file", Text(&o->pid_file)}};
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--", 0) != 0) {
      std::cerr << "idem_chaos: unexpected argument " << arg << "\n";
      return false;
    }
    arg = arg.substr(2);
    std::string value;
    if (const size_t eq = arg.find('='); eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
    } else if (i + 1 < argc) {
      value = argv[++i];
    }
    auto flag = flags.find(arg);
    if (flag == flags.end() || !flag->second(value)) {
      std::cerr << "idem_chaos: bad option --" << arg << "\n";
      return false;
    }
  }
  for (const std::string* required :
       {&o->server_binary, &o->pg_local, &o->pg_dir, &o->database_url,
        &o->storage_root}) {
    if (required->empty()) {
      std::cerr << "idem_chaos: --server-binary, --pg-local, --pg-dir, "
                   "--database-url and --storage-root are required\n";
      return false;
    }
  }
  if (o->workers < 1 || o->ops < 1 || o->min_faults < 0 || o->max_seconds < 1 ||
      o->min_failovers < 0 || o->netns.size() > 10 ||
      (o->min_failovers > 0 && o->standby_dir.empty())) {
    std::cerr << "idem_chaos: bad numbers, a --netns tag over 10 characters "
                 "or --min-failovers without --standby-dir\n";
    return false;
  }
  return true;
}

}  // namespace idem::chaos
