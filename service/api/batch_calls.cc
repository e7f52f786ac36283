#include "service/api/batch_calls.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>

#include <cstdint>
#include <string>

namespace idem::api {

bool ParseBatchCallByCall(const grpc::ByteBuffer& wire,
                          v1::BatchRequest& request,
                          std::vector<bool>& malformed) {
  using google::protobuf::internal::WireFormatLite;
  grpc::Slice bytes;
  if (!wire.DumpToSingleSlice(&bytes).ok()) return false;
  google::protobuf::io::CodedInputStream input(bytes.begin(),
                                               static_cast<int>(bytes.size()));
  request.Clear();
  malformed.clear();
  constexpr int kCallsField =
      v1::BatchRequest::kCallsFieldNumber;  // repeated BatchCall calls = 1
  while (const uint32_t tag = input.ReadTag()) {
    if (WireFormatLite::GetTagFieldNumber(tag) != kCallsField ||
        WireFormatLite::GetTagWireType(tag) !=
            WireFormatLite::WIRETYPE_LENGTH_DELIMITED) {
      if (!WireFormatLite::SkipField(&input, tag)) return false;
      continue;
    }
    std::string call;
    if (!WireFormatLite::ReadBytes(&input, &call)) return false;
    v1::BatchCall* parsed = request.add_calls();
    const bool parses = parsed->ParseFromString(call);
    if (!parses) parsed->Clear();
    malformed.push_back(!parses);
  }
  return input.ConsumedEntireMessage();
}

}  // namespace idem::api
