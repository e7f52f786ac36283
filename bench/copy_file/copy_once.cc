// One CopyFile call, for bench/copy_file/run:
//   bench_copy_once ADDRESS SOURCE DESTINATION
// Prints "<outcome> <size_bytes> <sha256>" and exits 0 on success; prints the
// status and exits 1 otherwise. Paths are relative to the server's storage
// root.
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <iostream>

#include "idem/v1/idem.grpc.pb.h"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: " << argv[0] << " ADDRESS SOURCE DESTINATION\n";
    return 2;
  }
  auto stub = idem::v1::IdemService::NewStub(
      grpc::CreateChannel(argv[1], grpc::InsecureChannelCredentials()));
  idem::v1::CopyFileRequest request;
  request.set_source_path(argv[2]);
  request.set_destination_path(argv[3]);
  idem::v1::CopyFileResponse response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::minutes(10));
  context.set_wait_for_ready(true);
  grpc::Status status = stub->CopyFile(&context, request, &response);
  if (!status.ok()) {
    std::cerr << "CopyFile failed: " << status.error_code() << " "
              << status.error_message() << "\n";
    return 1;
  }
  std::cout << idem::v1::CopyOutcome_Name(response.outcome()) << " "
            << response.size_bytes() << " " << response.sha256() << "\n";
  return 0;
}
