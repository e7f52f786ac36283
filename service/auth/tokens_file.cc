#include "service/auth/tokens_file.h"

#include <algorithm>
#include <initializer_list>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"
#include "service/common/file_text.h"

namespace idem::auth {
namespace {

using nlohmann::json;

absl::Status Bad(const std::string& path, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("IDEM_AUTH_TOKENS ", path, ": ", why));
}

absl::StatusOr<Operation> ParseOperation(const std::string& name) {
  for (Operation op :
       {Operation::kInsert, Operation::kUpdate, Operation::kCopyFile,
        Operation::kKeyedCall, Operation::kReadKeys, Operation::kForgetKeys}) {
    if (OperationName(op) == name) return op;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown operation \"", name, "\""));
}

// A string member, or "" when absent; INVALID_ARGUMENT when not a string.
absl::StatusOr<std::string> OptionalString(const json& object,
                                           const char* name) {
  if (!object.contains(name)) return std::string();
  if (!object[name].is_string()) {
    return absl::InvalidArgumentError(absl::StrCat(name, " must be a string"));
  }
  return object[name].get<std::string>();
}

absl::StatusOr<std::string> ParseHash(const json& token) {
  absl::StatusOr<std::string> hex = OptionalString(token, "sha256");
  if (!hex.ok() || hex->empty()) return hex;
  *hex = absl::AsciiStrToLower(*hex);
  if (hex->size() != 64 ||
      hex->find_first_not_of("0123456789abcdef") != std::string::npos) {
    return absl::InvalidArgumentError("sha256 must be 64 hex characters");
  }
  return absl::HexStringToBytes(*hex);
}

absl::Status ParsePermissions(const json& token, Caller& caller) {
  caller.all_tables = false;
  for (const json& table : token.value("tables", json::array())) {
    if (!table.is_string()) {
      return absl::InvalidArgumentError("tables must be strings");
    }
    if (table == "*") caller.all_tables = true;
    caller.tables.insert(table.get<std::string>());
  }
  caller.all_operations = false;
  for (const json& op : token.value("operations", json::array())) {
    if (!op.is_string()) {
      return absl::InvalidArgumentError("operations must be strings");
    }
    if (op == "*") {
      caller.all_operations = true;
      continue;
    }
    absl::StatusOr<Operation> parsed = ParseOperation(op.get<std::string>());
    if (!parsed.ok()) return parsed.status();
    caller.operations.insert(*parsed);
  }
  return absl::OkStatus();
}

// A field the file does not know is a typo ("tabels") that would
// otherwise pass silently as a permission never granted.
absl::Status OnlyKnownFields(const json& object,
                             std::initializer_list<absl::string_view> known) {
  for (const auto& [name, value] : object.items()) {
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown field \"", name,
                       "\" (known: ", absl::StrJoin(known, ", "), ")"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<CredentialEntry> ParseEntry(const json& token) {
  if (!token.is_object()) {
    return absl::InvalidArgumentError("every entry must be an object");
  }
  if (absl::Status known = OnlyKnownFields(
          token,
          {"sha256", "client_cert_subject", "tenant", "tables", "operations"});
      !known.ok()) {
    return known;
  }
  CredentialEntry entry;
  absl::StatusOr<std::string> hash = ParseHash(token);
  if (!hash.ok()) return hash.status();
  entry.sha256 = *std::move(hash);
  absl::StatusOr<std::string> subject =
      OptionalString(token, "client_cert_subject");
  if (!subject.ok()) return subject.status();
  entry.client_cert_subject = *std::move(subject);
  if (entry.sha256.empty() && entry.client_cert_subject.empty()) {
    return absl::InvalidArgumentError(
        "every entry needs sha256, client_cert_subject or both");
  }
  absl::StatusOr<std::string> tenant = OptionalString(token, "tenant");
  if (!tenant.ok()) return tenant.status();
  if (tenant->empty()) {
    return absl::InvalidArgumentError("every entry needs a non-empty tenant");
  }
  entry.caller.tenant = *std::move(tenant);
  if (absl::Status permissions = ParsePermissions(token, entry.caller);
      !permissions.ok()) {
    return permissions;
  }
  return entry;
}

}  // namespace

absl::StatusOr<std::string> ReadTokensFile(const std::string& path) {
  std::optional<std::string> content = ReadRegularFile(path);
  if (!content.has_value()) return Bad(path, "cannot be read");
  return *std::move(content);
}

absl::StatusOr<std::vector<CredentialEntry>> LoadTokensFile(
    const std::string& path) {
  absl::StatusOr<std::string> content = ReadTokensFile(path);
  if (!content.ok()) return content.status();
  return ParseTokensFile(path, *content);
}

absl::StatusOr<std::vector<CredentialEntry>> ParseTokensFile(
    const std::string& path, const std::string& content) {
  json doc = json::parse(content, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("tokens") ||
      !doc["tokens"].is_array()) {
    return Bad(path, "expected {\"tokens\": [...]}");
  }
  if (absl::Status known = OnlyKnownFields(doc, {"tokens"}); !known.ok()) {
    return Bad(path, known.message());
  }
  std::vector<CredentialEntry> entries;
  std::set<std::string> hashes;
  std::set<std::string> subjects;
  for (const json& token : doc["tokens"]) {
    const std::string where = absl::StrCat("entry ", entries.size() + 1, ": ");
    absl::StatusOr<CredentialEntry> entry = ParseEntry(token);
    if (!entry.ok()) {
      return Bad(path, absl::StrCat(where, entry.status().message()));
    }
    // One credential, one caller: a duplicate would make the tenant depend
    // on the order of the file.
    if (!entry->sha256.empty() && !hashes.insert(entry->sha256).second) {
      return Bad(path, absl::StrCat(where, "sha256 appears twice"));
    }
    if (!entry->client_cert_subject.empty() &&
        !subjects.insert(entry->client_cert_subject).second) {
      return Bad(path,
                 absl::StrCat(where, "client_cert_subject appears twice"));
    }
    entries.push_back(*std::move(entry));
  }
  return entries;
}

}  // namespace idem::auth
