#ifndef IDEM_TESTS_SUPPORT_RAW_UNARY_CALL_H_
#define IDEM_TESTS_SUPPORT_RAW_UNARY_CALL_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

namespace idem::testing {

// Sends `bytes` as the serialized request of `method` (e.g.
// "/idem.v1.IdemService/Insert"), bypassing every client's own encoding, so
// that they need not be a message at all, and waits for the call to end.
// `response`, when given, receives the answer's bytes.
grpc::Status RawUnaryCall(const std::shared_ptr<grpc::Channel>& channel,
                          grpc::ClientContext& context,
                          const std::string& method, const std::string& bytes,
                          std::string* response = nullptr);

}  // namespace idem::testing

#endif  // IDEM_TESTS_SUPPORT_RAW_UNARY_CALL_H_
