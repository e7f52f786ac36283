#ifndef IDEM_SERVICE_API_TYPED_RPC_H_
#define IDEM_SERVICE_API_TYPED_RPC_H_

#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/codegen/proto_utils.h>

#include <memory>

#include "service/api/tenant_limiter.h"

namespace idem::api {

// One RPC as the service serves it: gRPC hands over raw bytes, and the
// service parses them itself, so that a request which does not parse (a
// string field that is not UTF-8, bytes that are no message) gets the
// contract's INVALID_ARGUMENT, REQUEST_INVALID. On typed methods gRPC
// answers such a request UNIMPLEMENTED with an empty message, before any
// code of the service runs.
class Rpc : public grpc::ServerUnaryReactor {
 public:
  // Ends the RPC with `status`, and with the response when it is OK.
  virtual void Send(const grpc::Status& status) = 0;

  // False when gRPC handed over no request at all: the call ended (was
  // cancelled, reset by the transport's quota, or lost its connection)
  // before its message arrived whole, or was sent without one.
  bool request_arrived() const { return request_arrived_; }

 protected:
  bool request_arrived_ = false;
};

// An Rpc of typed messages: the request parsed from the wire, the response
// that the handler fills and that goes out serialized. Deletes itself when
// gRPC is done with the RPC, which is when the answer has left: until then
// its bytes and the request's count in `limiter`, since a caller that reads
// slowly (or not at all) keeps them in the server's memory.
template <typename Request, typename Response>
class TypedRpc final : public Rpc {
 public:
  TypedRpc(grpc::ByteBuffer* wire_response, TenantLimiter& limiter)
      : wire_response_(wire_response), limiter_(limiter) {}

  // Parses `wire_request` into request(); false when it is no Request.
  bool Parse(const grpc::ByteBuffer& wire_request) {
    request_arrived_ = wire_request.Valid();
    request_bytes_ = wire_request.Length();
    grpc::ByteBuffer bytes(wire_request);  // Deserialize consumes it
    return grpc::SerializationTraits<Request>::Deserialize(&bytes, &request_)
        .ok();
  }

  const Request& request() const { return request_; }
  Request* mutable_request() { return &request_; }
  Response* response() { return &response_; }

  void Send(const grpc::Status& status) override {
    bool own_buffer;
    grpc::Status sent = status;
    if (status.ok()) {
      grpc::Status serialized = grpc::SerializationTraits<Response>::Serialize(
          response_, wire_response_, &own_buffer);
      if (!serialized.ok()) {
        sent = grpc::Status(grpc::StatusCode::INTERNAL,
                            "the response could not be encoded");
      }
    }
    // A failure goes out in headers alone, which no flow control holds
    // back; an answer with a message waits for the caller's window.
    if (sent.ok()) {
      held_ = limiter_.HoldBytes(request_bytes_ + wire_response_->Length());
    }
    Finish(sent);
  }

  void OnDone() override { delete this; }

 private:
  grpc::ByteBuffer* const wire_response_;
  TenantLimiter& limiter_;
  size_t request_bytes_ = 0;
  std::unique_ptr<TenantLimiter::Permit> held_;
  Request request_;
  Response response_;
};

}  // namespace idem::api

#endif  // IDEM_SERVICE_API_TYPED_RPC_H_
