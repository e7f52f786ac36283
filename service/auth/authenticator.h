#ifndef IDEM_SERVICE_AUTH_AUTHENTICATOR_H_
#define IDEM_SERVICE_AUTH_AUTHENTICATOR_H_

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "service/auth/caller.h"
#include "service/auth/tokens_file.h"

namespace idem::auth {

// The tenant of every call when authentication is off.
inline constexpr char kDefaultTenant[] = "default";

// Establishes the Caller of a call from its credentials, checked against
// the tokens file (IDEM_AUTH_TOKENS, see tokens_file.h): an
// `authorization: Bearer <token>` header whose SHA-256 is listed, or else a
// verified mutual-TLS client certificate whose subject is listed. Without a
// tokens file every call is the default tenant with every permission.
//
// The tokens file is read again every `reload_interval`, so that tokens are
// rotated without a restart: a changed file that loads replaces the whole
// set at once (a call checks against one set, old or new), one that does
// not load is reported to `on_reload` and ignored, the last good set stays.
class Authenticator {
 public:
  // Told the outcome of each reload of a changed file, and once when the
  // file cannot be read (gone, unreadable) until it can again.
  using ReloadListener = std::function<void(const absl::Status&)>;

  // `tokens_path` empty: authentication off. `reload_interval` zero: the
  // file is read once.
  static absl::StatusOr<std::unique_ptr<Authenticator>> Create(
      const std::string& tokens_path,
      absl::Duration reload_interval = absl::ZeroDuration(),
      ReloadListener on_reload = nullptr);
  ~Authenticator();  // stops watching the file

  // UNAUTHENTICATED without valid credentials. A call that sends an
  // authorization header is judged by it alone: a bad token is refused even
  // with a good certificate, so that a mistake is never papered over.
  absl::StatusOr<Caller> Authenticate(
      const grpc::ServerContextBase& context) const;

  bool enabled() const { return enabled_; }
  // Whether some entry names a client certificate subject: those need
  // mutual TLS (IDEM_TLS_CLIENT_CA) to ever match.
  bool maps_client_certificates() const;

 private:
  using Entries = std::vector<CredentialEntry>;

  Authenticator() = default;
  std::shared_ptr<const Entries> entries() const;
  absl::StatusOr<Caller> FromBearerToken(const Entries& entries,
                                         absl::string_view header) const;
  absl::StatusOr<Caller> FromClientCertificate(
      const Entries& entries, const grpc::ServerContextBase& context) const;
  // Until destroyed: reads the file every `interval` and swaps in a changed
  // set that loads.
  void Watch(const std::string& path, absl::Duration interval,
             std::string loaded, ReloadListener on_reload);

  bool enabled_ = false;
  mutable absl::Mutex mu_;
  std::shared_ptr<const Entries> entries_ ABSL_GUARDED_BY(mu_) =
      std::make_shared<const Entries>();
  absl::Notification stop_;
  std::thread watcher_;
};

}  // namespace idem::auth

#endif  // IDEM_SERVICE_AUTH_AUTHENTICATOR_H_
