#include "service/auth/authenticator.h"

#include <openssl/crypto.h>

#include <optional>

#include "absl/strings/match.h"
#include "idem/v1/wire_names.h"
#include "service/auth/client_certificate.h"
#include "service/common/error_reason.h"
#include "service/common/sha256.h"

namespace idem::auth {
namespace {

constexpr absl::string_view kBearer = "Bearer ";

}  // namespace

absl::StatusOr<std::unique_ptr<Authenticator>> Authenticator::Create(
    const std::string& tokens_path, absl::Duration reload_interval,
    ReloadListener on_reload) {
  std::unique_ptr<Authenticator> auth(new Authenticator());
  if (tokens_path.empty()) return auth;
  auth->enabled_ = true;
  absl::StatusOr<std::string> content = ReadTokensFile(tokens_path);
  if (!content.ok()) return content.status();
  absl::StatusOr<Entries> entries = ParseTokensFile(tokens_path, *content);
  if (!entries.ok()) return entries.status();
  {
    absl::MutexLock lock(&auth->mu_);
    auth->entries_ = std::make_shared<const Entries>(*std::move(entries));
  }
  if (reload_interval > absl::ZeroDuration()) {
    auth->watcher_ =
        std::thread(&Authenticator::Watch, auth.get(), tokens_path,
                    reload_interval, *std::move(content), std::move(on_reload));
  }
  return auth;
}

Authenticator::~Authenticator() {
  stop_.Notify();
  if (watcher_.joinable()) watcher_.join();
}

void Authenticator::Watch(const std::string& path, absl::Duration interval,
                          std::string loaded, ReloadListener on_reload) {
  bool unreadable_told = false;
  while (!stop_.WaitForNotificationWithTimeout(interval)) {
    // A file gone or unreadable keeps the tokens loaded before, as a
    // malformed one does, and is told once until it reads again.
    absl::StatusOr<std::string> content = ReadTokensFile(path);
    if (!content.ok()) {
      if (!unreadable_told && on_reload) on_reload(content.status());
      unreadable_told = true;
      continue;
    }
    unreadable_told = false;
    if (*content == loaded) continue;
    loaded = *std::move(content);
    absl::StatusOr<Entries> entries = ParseTokensFile(path, loaded);
    if (entries.ok()) {
      absl::MutexLock lock(&mu_);
      entries_ = std::make_shared<const Entries>(*std::move(entries));
    }
    if (on_reload) on_reload(entries.status());
  }
}

std::shared_ptr<const Authenticator::Entries> Authenticator::entries() const {
  absl::MutexLock lock(&mu_);
  return entries_;
}

bool Authenticator::maps_client_certificates() const {
  for (const CredentialEntry& entry : *entries()) {
    if (!entry.client_cert_subject.empty()) return true;
  }
  return false;
}

absl::StatusOr<Caller> Authenticator::Authenticate(
    const grpc::ServerContextBase& context) const {
  if (!enabled_) {
    Caller everyone;
    everyone.tenant = kDefaultTenant;
    return everyone;
  }
  // One set for the whole call, whatever a reload does meanwhile.
  const std::shared_ptr<const Entries> entries = this->entries();
  const auto& metadata = context.client_metadata();
  auto [first, last] = metadata.equal_range(v1::wire::kAuthorizationHeader);
  if (first == last) return FromClientCertificate(*entries, context);
  if (std::next(first) != last) {
    return Error(Reason::kCredentialsInvalid,
                 "send exactly one 'authorization: Bearer <token>' header");
  }
  return FromBearerToken(
      *entries, absl::string_view(first->second.data(), first->second.size()));
}

absl::StatusOr<Caller> Authenticator::FromBearerToken(
    const Entries& entries, absl::string_view header) const {
  // The scheme is case-insensitive (RFC 7235 section 2.1); the token is not.
  if (!absl::StartsWithIgnoreCase(header, kBearer) ||
      header.size() == kBearer.size()) {
    return Error(Reason::kCredentialsInvalid,
                 "the authorization header must be 'Bearer <token>'");
  }
  Sha256 hash;
  absl::string_view token = header.substr(kBearer.size());
  hash.Update(std::string_view(token.data(), token.size()));
  const std::string digest = hash.Digest();
  // Every entry is compared, in constant time, so that timing tells nothing
  // about which token (or how much of one) matched.
  const CredentialEntry* match = nullptr;
  for (const CredentialEntry& entry : entries) {
    if (entry.sha256.size() == digest.size() &&
        CRYPTO_memcmp(entry.sha256.data(), digest.data(), digest.size()) == 0) {
      match = &entry;
    }
  }
  if (match == nullptr) {
    return Error(Reason::kCredentialsInvalid, "unknown token");
  }
  return match->caller;
}

absl::StatusOr<Caller> Authenticator::FromClientCertificate(
    const Entries& entries, const grpc::ServerContextBase& context) const {
  std::optional<std::string> subject = VerifiedClientSubject(context);
  if (subject.has_value()) {
    for (const CredentialEntry& entry : entries) {
      if (!entry.client_cert_subject.empty() &&
          entry.client_cert_subject == *subject) {
        return entry.caller;
      }
    }
  }
  // The subject is not echoed: the caller knows it, a log reader need not.
  return Error(Reason::kCredentialsInvalid,
               subject.has_value()
                   ? "the client certificate is not mapped to a tenant; send "
                     "'authorization: Bearer <token>'"
                   : "send exactly one 'authorization: Bearer <token>' header");
}

}  // namespace idem::auth
