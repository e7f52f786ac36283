#ifndef IDEM_TESTS_CHAOS_COMMAND_H_
#define IDEM_TESTS_CHAOS_COMMAND_H_

#include <string>
#include <vector>

namespace idem::chaos {

// Runs argv[0] (searched in PATH) to completion, stdout and stderr captured
// into `output` when given. Returns the exit status (128+signal, or -1 when
// it cannot start).
int RunCommand(const std::vector<std::string>& argv,
               std::string* output = nullptr);

}  // namespace idem::chaos

#endif  // IDEM_TESTS_CHAOS_COMMAND_H_
