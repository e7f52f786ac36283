#include "service/auth/authenticator.h"

#include <openssl/crypto.h>

#include <fstream>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "nlohmann/json.hpp"
#include "service/common/sha256.h"

namespace idem::auth {
namespace {

absl::Status Bad(const std::string& path, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("IDEM_AUTH_TOKENS ", path, ": ", why));
}

absl::StatusOr<Operation> ParseOperation(const std::string& name) {
  for (Operation op : {Operation::kInsert, Operation::kUpdate,
                       Operation::kCopyFile, Operation::kKeyedCall}) {
    if (OperationName(op) == name) return op;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown operation \"", name, "\""));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Authenticator>> Authenticator::Create(
    const std::string& tokens_path) {
  std::unique_ptr<Authenticator> auth(new Authenticator());
  if (tokens_path.empty()) return auth;
  auth->enabled_ = true;
  std::ifstream in(tokens_path);
  if (!in) return Bad(tokens_path, "cannot be read");
  nlohmann::json doc =
      nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("tokens") ||
      !doc["tokens"].is_array()) {
    return Bad(tokens_path, "expected {\"tokens\": [...]}");
  }
  for (const nlohmann::json& token : doc["tokens"]) {
    if (!token.is_object() ||
        !token.value("sha256", nlohmann::json()).is_string() ||
        !token.value("tenant", nlohmann::json()).is_string()) {
      return Bad(tokens_path,
                 "every token needs string fields sha256 and tenant");
    }
    std::string hex = absl::AsciiStrToLower(token["sha256"].get<std::string>());
    if (hex.size() != 64 ||
        hex.find_first_not_of("0123456789abcdef") != std::string::npos) {
      return Bad(tokens_path, "sha256 must be 64 hex characters");
    }
    Entry entry;
    entry.sha256 = absl::HexStringToBytes(hex);
    entry.caller.tenant = token["tenant"].get<std::string>();
    if (entry.caller.tenant.empty()) return Bad(tokens_path, "empty tenant");
    entry.caller.all_tables = false;
    for (const nlohmann::json& table :
         token.value("tables", nlohmann::json::array())) {
      if (!table.is_string()) return Bad(tokens_path, "tables must be strings");
      if (table == "*") entry.caller.all_tables = true;
      entry.caller.tables.insert(table.get<std::string>());
    }
    entry.caller.all_operations = false;
    for (const nlohmann::json& op :
         token.value("operations", nlohmann::json::array())) {
      if (!op.is_string())
        return Bad(tokens_path, "operations must be strings");
      if (op == "*") {
        entry.caller.all_operations = true;
        continue;
      }
      absl::StatusOr<Operation> parsed = ParseOperation(op.get<std::string>());
      if (!parsed.ok()) return Bad(tokens_path, parsed.status().message());
      entry.caller.operations.insert(*parsed);
    }
    auth->entries_.push_back(std::move(entry));
  }
  return auth;
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
  if (first == last || std::next(first) != last) {
    return absl::UnauthenticatedError(
        "send exactly one 'authorization: Bearer <token>' header");
  }
  absl::string_view value(first->second.data(), first->second.size());
  if (!absl::ConsumePrefix(&value, "Bearer ") || value.empty()) {
    return absl::UnauthenticatedError(
        "the authorization header must be 'Bearer <token>'");
  }
  Sha256 hash;
  hash.Update(std::string(value));
  const std::string digest = hash.Digest();
  // Every entry is compared, in constant time, so that timing tells nothing
  // about which token (or how much of one) matched.
  const Entry* match = nullptr;
  for (const Entry& entry : entries_) {
    if (CRYPTO_memcmp(entry.sha256.data(), digest.data(), digest.size()) == 0) {
      match = &entry;
    }
  }
  if (match == nullptr) return absl::UnauthenticatedError("unknown token");
  return match->caller;
}

}  // namespace idem::auth
