#include "service/observability/library_logs.h"

#include <google/protobuf/stubs/logging.h>
#include <grpc/support/log.h>

#include <string>

#include "service/observability/log.h"

namespace idem::log {
namespace {

void FromGrpc(gpr_log_func_args* args) {
  nlohmann::json fields = {
      {"message", args->message}, {"file", args->file}, {"line", args->line}};
  // gRPC's errors are often a peer's (a client that closed, a handshake a
  // scanner broke off): the operator's warning, not the server's error.
  if (args->severity == GPR_LOG_SEVERITY_ERROR) {
    Warn("grpc", std::move(fields));
  } else {
    Info("grpc", std::move(fields));
  }
}

void FromProtobuf(google::protobuf::LogLevel level, const char* filename,
                  int line, const std::string& message) {
  nlohmann::json fields = {
      {"message", message}, {"file", filename}, {"line", line}};
  if (level >= google::protobuf::LOGLEVEL_ERROR) {
    Error("protobuf", std::move(fields));
  } else {
    Warn("protobuf", std::move(fields));
  }
}

}  // namespace

void RouteLibraryLogs() {
  gpr_set_log_function(FromGrpc);
  google::protobuf::SetLogHandler(FromProtobuf);
}

}  // namespace idem::log
