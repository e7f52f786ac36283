#ifndef IDEM_SERVICE_AUTH_VETTED_TLS_FILES_H_
#define IDEM_SERVICE_AUTH_VETTED_TLS_FILES_H_

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "service/auth/tls_files.h"

namespace idem::auth {

// The TLS files gRPC serves from: copies, in a private folder under
// $TMPDIR, of the operator's files (IDEM_TLS_CERT, IDEM_TLS_KEY,
// IDEM_TLS_CLIENT_CA) taken only when they pass ReadTlsFiles.
//
// gRPC's file watcher takes whatever the files hold when they change: a
// rotation that writes a certificate with the key of another, or a file
// that holds no certificate, would fail every new handshake until fixed,
// while the server reads as healthy. Here the operator's files are read
// every `interval`; a changed set that checks replaces the copies at once
// (a link swapped by rename, so that gRPC never reads half of a set), and
// one that does not is reported to `on_reload` and ignored: gRPC keeps
// serving the last good set.
class VettedTlsFiles {
 public:
  // Told of each changed set taken (OK) and of each new reason a set is not
  // taken, once until the reason changes.
  using ReloadListener = std::function<void(const absl::Status&)>;

  // INVALID_ARGUMENT when the operator's files do not check now (see
  // ReadTlsFiles); FAILED_PRECONDITION when the private folder cannot be
  // written.
  static absl::StatusOr<std::unique_ptr<VettedTlsFiles>> Create(
      TlsFilePaths operator_files, absl::Duration interval,
      ReloadListener on_reload);
  ~VettedTlsFiles();  // stops watching and removes the private folder

  // The copies, for gRPC's file watcher (client_ca empty when unset).
  const TlsFilePaths& served() const { return served_; }

 private:
  VettedTlsFiles(TlsFilePaths operator_files, std::filesystem::path folder);
  // Writes `contents` as the next set and points the served paths at it.
  absl::Status Publish(const TlsFileContents& contents);
  void Watch(absl::Duration interval, ReloadListener on_reload);

  const TlsFilePaths operator_files_;
  const std::filesystem::path folder_;
  TlsFilePaths served_;
  TlsFileContents published_;  // written by Publish, then the watcher only
  int sets_written_ = 0;
  absl::Notification stop_;
  std::thread watcher_;
};

}  // namespace idem::auth

#endif  // IDEM_SERVICE_AUTH_VETTED_TLS_FILES_H_
