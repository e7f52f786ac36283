#ifndef IDEM_TESTS_SUPPORT_SERVER_PROCESS_H_
#define IDEM_TESTS_SUPPORT_SERVER_PROCESS_H_

#include <grpcpp/grpcpp.h>
#include <sys/types.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "idem/v1/idem.grpc.pb.h"

namespace idem::testing {

// A real idem-server process (IDEM_SERVER_BINARY) against the tests'
// database, listening on a loopback port it picks itself. Killed when
// destroyed.
class ServerProcess {
 public:
  struct Options {
    // IDEM_* settings on top of the defaults: the test database, a free
    // loopback port, plaintext, no drain delay.
    std::map<std::string, std::string> env;
    std::vector<std::string> args;
  };

  // Starts the server and waits until it listens. Throws std::runtime_error
  // (with the server's log) when it does not come up.
  static std::unique_ptr<ServerProcess> Start(const Options& options);
  ~ServerProcess();

  const std::string& address() const { return address_; }
  std::shared_ptr<grpc::Channel> Channel() const;
  std::unique_ptr<v1::IdemService::Stub> Stub() const;

  void Signal(int signal_number);
  // Waits for the process to end and returns its exit status (or 128+signal).
  int Wait();
  bool Running();
  // Everything the server logged so far.
  std::string Log() const;
  pid_t pid() const { return pid_; }

 private:
  ServerProcess() = default;

  pid_t pid_ = -1;
  std::string log_path_;
  std::string address_;
  int exit_status_ = -1;
};

// Runs `idem-server` with `args` to completion (e.g. "migrate", or a bad
// setting) and returns its exit status; its log goes to `log` if given. A
// server still running after a minute is killed (128 + SIGKILL).
// `spawned`, when set, is told the process id once it runs.
int RunServerCommand(const std::map<std::string, std::string>& env,
                     const std::vector<std::string>& args,
                     std::string* log = nullptr,
                     const std::function<void(pid_t)>& spawned = nullptr);

}  // namespace idem::testing

#endif  // IDEM_TESTS_SUPPORT_SERVER_PROCESS_H_
