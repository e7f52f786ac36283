#ifndef IDEM_TESTS_CHAOS_NETNS_RELAY_H_
#define IDEM_TESTS_CHAOS_NETNS_RELAY_H_

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace idem::chaos {

// A TCP relay whose listening socket lives in a network namespace: it listens
// on `address` (the namespace's own address, port picked by the kernel) and
// forwards every connection to 127.0.0.1:`upstream_port` in the caller's
// namespace. Clients reach it over the veth pair, so the namespace's iptables
// rules (drop, reset) act on exactly this traffic and on nothing else.
class NetnsRelay {
 public:
  static absl::StatusOr<std::unique_ptr<NetnsRelay>> Start(
      const std::string& netns, const std::string& address, int upstream_port);
  ~NetnsRelay();

  std::string address() const;  // "<namespace address>:<port>"

 private:
  NetnsRelay() = default;
  void AcceptLoop();
  void Pump(int client_fd, int server_fd);

  int listen_fd_ = -1;
  std::string host_;
  int port_ = 0;
  int upstream_port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;
  absl::Mutex mu_;
  int live_pumps_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace idem::chaos

#endif  // IDEM_TESTS_CHAOS_NETNS_RELAY_H_
