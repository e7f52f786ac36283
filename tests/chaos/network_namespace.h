#ifndef IDEM_TESTS_CHAOS_NETWORK_NAMESPACE_H_
#define IDEM_TESTS_CHAOS_NETWORK_NAMESPACE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace idem::chaos {

// A network namespace of the run's own, joined to the host by a veth pair:
// the host reaches the namespace's address over the pair, so iptables rules
// inside the namespace act on that traffic and on nothing else.
class NetworkNamespace {
 public:
  // Namespace "idem-<tag>", interfaces "idem<tag>h" (host) and "idem<tag>n";
  // `tag` is at most 10 characters. FAILED_PRECONDITION, saying what is
  // missing, without root, `ip` or iptables.
  static absl::StatusOr<std::unique_ptr<NetworkNamespace>> Create(
      const std::string& tag);
  ~NetworkNamespace();  // deletes the namespace, and with it the pair

  const std::string& name() const { return name_; }
  const std::string& address() const { return address_; }  // its own end
  const std::string& host_interface() const { return host_interface_; }

 private:
  NetworkNamespace() = default;

  std::string name_, address_, host_interface_;
};

// iptables inside a namespace; every rule sits in chain IDEM_CHAOS, entered
// only for TCP to and from the namespace's own address.
class NamespaceFirewall {
 public:
  explicit NamespaceFirewall(const NetworkNamespace& netns)
      : netns_(netns.name()), address_(netns.address()) {}
  bool Setup();  // chain + jumps; false when iptables does not work here
  // Drops (or resets, with tcp-reset) this share of the packets, "1" for all.
  bool Add(const std::string& probability, bool reset);
  int64_t Flush();  // removes the rules, returns the packets they matched

 private:
  int Iptables(std::vector<std::string> args, std::string* out = nullptr);
  std::string netns_, address_;
};

}  // namespace idem::chaos

#endif  // IDEM_TESTS_CHAOS_NETWORK_NAMESPACE_H_
