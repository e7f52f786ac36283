#include "tests/security/security_env.h"

#include <stdlib.h>

#include <chrono>
#include <fstream>
#include <stdexcept>

#include "nlohmann/json.hpp"
#include "service/common/sha256.h"
#include "tests/support/raw_unary_call.h"

namespace idem::testing {

std::unique_ptr<ServerProcess> StartServerWith(
    const std::map<std::string, std::string>& env) {
  ServerProcess::Options options;
  options.env = env;
  return ServerProcess::Start(options);
}

std::string WriteTempFile(const std::string& name, const std::string& content) {
  char dir[] = "/tmp/idem-sec-XXXXXX";
  if (mkdtemp(dir) == nullptr) throw std::runtime_error("mkdtemp");
  std::string path = std::string(dir) + "/" + name;
  std::ofstream(path) << content;
  return path;
}

std::string TokensFileContent(const std::vector<TokenSpec>& specs) {
  nlohmann::json tokens = nlohmann::json::array();
  for (const TokenSpec& spec : specs) {
    nlohmann::json entry = {{"tenant", spec.tenant},
                            {"tables", spec.tables},
                            {"operations", spec.operations}};
    if (!spec.token.empty()) entry["sha256"] = Sha256Hex(spec.token);
    if (!spec.subject.empty()) entry["client_cert_subject"] = spec.subject;
    tokens.push_back(entry);
  }
  return nlohmann::json{{"tokens", tokens}}.dump();
}

std::string WriteTokensFile(const std::vector<TokenSpec>& specs) {
  return WriteTempFile("tokens.json", TokensFileContent(specs));
}

std::unique_ptr<grpc::ClientContext> CallContext(const std::string& token) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::seconds(60));
  if (!token.empty()) context->AddMetadata("authorization", "Bearer " + token);
  return context;
}

std::shared_ptr<grpc::Channel> OwnChannel(const std::string& address) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(),
                                   args);
}

std::shared_ptr<grpc::Channel> TlsChannel(const std::string& address,
                                          const std::string& root_pem,
                                          const KeyPair* client) {
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = root_pem;
  if (client != nullptr) {
    options.pem_private_key = client->key_pem;
    options.pem_cert_chain = client->cert_pem;
  }
  // A fresh subchannel per test: a failed handshake must not be shared.
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel(address, grpc::SslCredentials(options),
                                   args);
}

grpc::Status CheckHealth(const std::shared_ptr<grpc::Channel>& channel,
                         bool* serving) {
  std::string response;
  // HealthCheckRequest{service: ""} encodes as no bytes.
  grpc::Status status = RawUnaryCall(
      channel, *CallContext(), "/grpc.health.v1.Health/Check", "", &response);
  // HealthCheckResponse{status: SERVING (1)}: field 1, varint 1.
  if (serving != nullptr) *serving = status.ok() && response == "\x08\x01";
  return status;
}

grpc::Status ListServicesByReflection(
    const std::shared_ptr<grpc::Channel>& channel) {
  // ServerReflectionRequest{list_services: ""}: field 7, length 0. Sent as
  // one request and a half-close, which the bidi stream answers once.
  return RawUnaryCall(
      channel, *CallContext(),
      "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
      std::string("\x3a\x00", 2));
}

v1::InsertRequest InsertOf(const std::string& table,
                           const std::vector<v1::Row>& rows) {
  v1::InsertRequest request;
  request.set_table(table);
  for (const v1::Row& row : rows) *request.add_rows() = row;
  return request;
}

v1::KeyedCallRequest KeyedInsertOf(const std::string& key,
                                   const std::string& table,
                                   const std::vector<v1::Row>& rows) {
  v1::KeyedCallRequest request;
  request.set_idempotency_key(key);
  *request.mutable_insert() = InsertOf(table, rows);
  return request;
}

}  // namespace idem::testing
