#ifndef IDEM_TESTS_SUPPORT_FAULT_PROXY_H_
#define IDEM_TESTS_SUPPORT_FAULT_PROXY_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace idem::testing {

// A loopback TCP proxy for tests: accepts on 127.0.0.1, forwards each
// connection to `upstream`, and breaks connections on demand so that calls
// fail mid-flight: a request may reach the server and its answer be lost.
class FaultProxy {
 public:
  struct Faults {
    // Per chunk forwarded, in either direction: the chance that the
    // connection is cut instead (the chunk is lost). Resets send RST, drops
    // close quietly (FIN).
    double reset_probability = 0;
    double drop_probability = 0;
    // Held before each chunk from the server is passed on.
    absl::Duration response_delay;
    uint64_t seed = 1;
  };

  // upstream: "host:port" of an IPv4 address.
  static absl::StatusOr<std::unique_ptr<FaultProxy>> Start(
      const std::string& upstream);
  ~FaultProxy();

  std::string address() const;  // "127.0.0.1:<port>"
  void SetFaults(const Faults& faults);
  // Resets every open connection now.
  void ResetAll();
  int connections_cut() const { return cuts_.load(); }

 private:
  struct Connection;
  enum class Cut { kNone, kDrop, kReset };

  FaultProxy() = default;
  void AcceptLoop();
  void Pump(std::shared_ptr<Connection> connection);
  Cut NextFault();
  void CutConnection(Connection& connection, Cut how);

  int listen_fd_ = -1;
  int port_ = 0;
  std::string upstream_host_;
  int upstream_port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> cuts_{0};
  std::thread acceptor_;

  mutable absl::Mutex mu_;
  Faults faults_ ABSL_GUARDED_BY(mu_);
  uint64_t rng_ ABSL_GUARDED_BY(mu_) = 1;
  std::vector<std::shared_ptr<Connection>> connections_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> pumps_ ABSL_GUARDED_BY(mu_);
};

}  // namespace idem::testing

#endif  // IDEM_TESTS_SUPPORT_FAULT_PROXY_H_
