#include "tests/support/raw_unary_call.h"

#include <grpcpp/generic/generic_stub.h>

#include <future>
#include <vector>

namespace idem::testing {

grpc::Status RawUnaryCall(const std::shared_ptr<grpc::Channel>& channel,
                          grpc::ClientContext& context,
                          const std::string& method, const std::string& bytes,
                          std::string* response) {
  grpc::GenericStub stub(channel);
  grpc::Slice slice(bytes);
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer answer;
  std::promise<grpc::Status> ended;
  stub.UnaryCall(&context, method, grpc::StubOptions(), &request, &answer,
                 [&ended](grpc::Status status) { ended.set_value(status); });
  grpc::Status status = ended.get_future().get();
  if (status.ok() && response != nullptr) {
    std::vector<grpc::Slice> slices;
    (void)answer.Dump(&slices);
    response->clear();
    for (const grpc::Slice& part : slices) {
      response->append(reinterpret_cast<const char*>(part.begin()),
                       part.size());
    }
  }
  return status;
}

}  // namespace idem::testing
