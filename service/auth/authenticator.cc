#include "service/auth/authenticator.h"

#include <openssl/crypto.h>

#include <optional>

#include "absl/strings/match.h"
#include "service/auth/client_certificate.h"
#include "service/common/error_reason.h"
#include "service/common/sha256.h"

namespace idem::auth {
namespace {

constexpr absl::string_view kBearer = "Bearer ";

}  // namespace

absl::StatusOr<std::unique_ptr<Authenticator>> Authenticator::Create(
    const std::string& tokens_path) {
  std::unique_ptr<Authenticator> auth(new Authenticator());
  if (tokens_path.empty()) return auth;
  auth->enabled_ = true;
  absl::StatusOr<std::vector<CredentialEntry>> entries =
      LoadTokensFile(tokens_path);
  if (!entries.ok()) return entries.status();
  auth->entries_ = *std::move(entries);
  return auth;
}

bool Authenticator::maps_client_certificates() const {
  for (const CredentialEntry& entry : entries_) {
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
  const auto& metadata = context.client_metadata();
  auto [first, last] = metadata.equal_range("authorization");
  if (first == last) return FromClientCertificate(context);
  if (std::next(first) != last) {
    return Error(Reason::kCredentialsInvalid,
                 "send exactly one 'authorization: Bearer <token>' header");
  }
  return FromBearerToken(
      absl::string_view(first->second.data(), first->second.size()));
}

absl::StatusOr<Caller> Authenticator::FromBearerToken(
    absl::string_view header) const {
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
  for (const CredentialEntry& entry : entries_) {
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
    const grpc::ServerContextBase& context) const {
  std::optional<std::string> subject = VerifiedClientSubject(context);
  if (subject.has_value()) {
    for (const CredentialEntry& entry : entries_) {
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
