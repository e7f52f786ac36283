// Fuzzes the canonical encoding behind KeyedCall fingerprints
// (service/keys/fingerprint.h). The input is parsed as a serialized
// KeyedCallRequest; for every request that parses:
// - the encoding is deterministic, and a reserialized, reparsed copy (maps in
//   another order) has the same encoding and fingerprint;
// - the encoding is unambiguous: a decoder written here from the spec in
//   docs/keyed-call.md reads it back, consuming every byte, into a call that
//   equals the request once normalised (idempotency_key dropped,
//   ON_CONFLICT_UNSPECIFIED as DO_NOTHING, -0.0 as 0.0, every NaN as one,
//   any null_value as NULL_VALUE, copy paths as they resolve, retention
//   dropped). So two different calls never share an encoding.
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/stubs/logging.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "idem/v1/idem.pb.h"
#include "service/files/relative_path.h"
#include "service/keys/fingerprint.h"

namespace {

using idem::v1::KeyedCallRequest;
using idem::v1::Row;
using idem::v1::Value;

[[noreturn]] void Fail(const char* what) {
  std::fprintf(stderr, "fuzz_fingerprint: %s\n", what);
  std::abort();
}

// Reads the canonical encoding back. Every method fails (returns false) on
// bytes that the encoder cannot have produced.
class Decoder {
 public:
  explicit Decoder(const std::string& in) : in_(in) {}

  bool Done() const { return pos_ == in_.size(); }

  bool Tag(char* tag) {
    if (pos_ >= in_.size()) return false;
    *tag = in_[pos_++];
    return true;
  }
  bool Uint(uint64_t* value) {
    if (in_.size() - pos_ < 8) return false;
    *value = 0;
    for (int i = 0; i < 8; ++i) {
      *value = (*value << 8) | static_cast<unsigned char>(in_[pos_++]);
    }
    return true;
  }
  bool Bytes(std::string* bytes) {
    uint64_t size;
    if (!Uint(&size) || size > in_.size() - pos_) return false;
    bytes->assign(in_, pos_, size);
    pos_ += size;
    return true;
  }
  bool ReadValue(Value* value) {
    char tag;
    if (!Tag(&tag)) return false;
    uint64_t bits;
    std::string text;
    switch (tag) {
      case 'n':
        value->set_null_value(google::protobuf::NULL_VALUE);
        return true;
      case 't':
      case 'f':
        value->set_bool_value(tag == 't');
        return true;
      case 'i':
        if (!Uint(&bits)) return false;
        value->set_int_value(static_cast<int64_t>(bits));
        return true;
      case 'd': {
        if (!Uint(&bits)) return false;
        double d;
        std::memcpy(&d, &bits, sizeof(d));
        value->set_double_value(d);
        return true;
      }
      case 's':
        if (!Bytes(&text)) return false;
        value->set_string_value(text);
        return true;
      case 'b':
        if (!Bytes(&text)) return false;
        value->set_bytes_value(text);
        return true;
      case '0':
        value->Clear();
        return true;
    }
    return false;
  }
  bool ReadRow(Row* row) {
    char tag;
    uint64_t count;
    if (!Tag(&tag) || tag != 'r' || !Uint(&count)) return false;
    std::string previous;
    for (uint64_t i = 0; i < count; ++i) {
      std::string name;
      if (!Bytes(&name)) return false;
      // Names come sorted and unique: anything else is not canonical.
      if (i > 0 && !(previous < name)) return false;
      if (!ReadValue(&(*row->mutable_columns())[name])) return false;
      previous = std::move(name);
    }
    return true;
  }
  bool ReadInsert(idem::v1::InsertRequest* insert) {
    std::string text;
    uint64_t number, rows;
    if (!Bytes(&text)) return false;
    insert->set_table(text);
    if (!Uint(&number)) return false;
    insert->set_on_conflict(static_cast<idem::v1::OnConflict>(
        static_cast<int>(static_cast<int64_t>(number))));
    if (!Bytes(&text)) return false;
    insert->set_version_column(text);
    if (!Uint(&rows)) return false;
    for (uint64_t i = 0; i < rows; ++i) {
      if (!ReadRow(insert->add_rows())) return false;
    }
    // Returning columns, only when there are some.
    if (pos_ < in_.size() && in_[pos_] == 'R') {
      ++pos_;
      uint64_t columns;
      if (!Uint(&columns) || columns == 0) return false;
      for (uint64_t i = 0; i < columns; ++i) {
        if (!Bytes(&text)) return false;
        insert->add_returning(text);
      }
    }
    return true;
  }
  bool ReadUpdate(idem::v1::UpdateRequest* update) {
    std::string text;
    if (!Bytes(&text)) return false;
    update->set_table(text);
    if (!ReadRow(update->mutable_key()) || !ReadRow(update->mutable_set()) ||
        !ReadRow(update->mutable_increment()) || !Bytes(&text)) {
      return false;
    }
    update->set_version_column(text);
    return true;
  }
  bool ReadStep(idem::v1::Step* step) {
    char tag;
    if (!Tag(&tag) || (tag != 'A' && tag != 'a')) return false;
    step->set_require_applied(tag == 'A');
    if (!Tag(&tag)) return false;
    switch (tag) {
      case 'I':
        return ReadInsert(step->mutable_insert());
      case 'U':
        return ReadUpdate(step->mutable_update());
      case '0':
        return true;
    }
    return false;
  }
  bool ReadCall(KeyedCallRequest* call) {
    std::string magic;
    char tag;
    if (!Bytes(&magic) || magic != "idem.v1.KeyedCall/1" || !Tag(&tag)) {
      return false;
    }
    std::string text;
    uint64_t steps;
    switch (tag) {
      case 'I':
        return ReadInsert(call->mutable_insert());
      case 'U':
        return ReadUpdate(call->mutable_update());
      case 'C': {
        auto* copy = call->mutable_copy_file();
        if (!Bytes(&text)) return false;
        copy->set_source_path(text);
        if (!Bytes(&text)) return false;
        copy->set_destination_path(text);
        return true;
      }
      case 'T':
        if (!Uint(&steps)) return false;
        for (uint64_t i = 0; i < steps; ++i) {
          if (!ReadStep(call->mutable_transaction()->add_steps())) {
            return false;
          }
        }
        // A transaction always says it is one, even with no steps.
        call->mutable_transaction();
        return true;
      case '0':
        return true;
    }
    return false;
  }

 private:
  const std::string& in_;
  size_t pos_ = 0;
};

void NormaliseValue(Value* value) {
  if (value->kind_case() == Value::kNullValue) {
    value->set_null_value(google::protobuf::NULL_VALUE);
  } else if (value->kind_case() == Value::kDoubleValue &&
             value->double_value() == 0) {
    value->set_double_value(0);
  } else if (value->kind_case() == Value::kDoubleValue &&
             std::isnan(value->double_value())) {
    // Every NaN is one value, as PostgreSQL stores them.
    const uint64_t bits = 0x7ff8000000000000;
    double nan;
    std::memcpy(&nan, &bits, sizeof(nan));
    value->set_double_value(nan);
  }
}

void NormaliseRow(Row* row) {
  for (auto& [name, value] : *row->mutable_columns()) NormaliseValue(&value);
}

void NormaliseInsert(idem::v1::InsertRequest* insert) {
  if (insert->on_conflict() == idem::v1::ON_CONFLICT_UNSPECIFIED) {
    insert->set_on_conflict(idem::v1::ON_CONFLICT_DO_NOTHING);
  }
  for (Row& row : *insert->mutable_rows()) NormaliseRow(&row);
}

void NormaliseUpdate(idem::v1::UpdateRequest* update) {
  NormaliseRow(update->mutable_key());
  NormaliseRow(update->mutable_set());
  NormaliseRow(update->mutable_increment());
}

// A copy's path as the copy resolves it, or as sent when it refuses it.
std::string NormalisedPath(const std::string& path) {
  absl::StatusOr<idem::files::RelativePath> parsed =
      idem::files::ParseRelativePath("path", path);
  return parsed.ok() ? parsed->Joined() : path;
}

// The call as the fingerprint is meant to see it.
KeyedCallRequest Normalised(const KeyedCallRequest& request) {
  KeyedCallRequest call = request;
  call.clear_idempotency_key();
  call.clear_retention();
  call.DiscardUnknownFields();
  switch (call.call_case()) {
    case KeyedCallRequest::kInsert:
      NormaliseInsert(call.mutable_insert());
      break;
    case KeyedCallRequest::kUpdate:
      NormaliseUpdate(call.mutable_update());
      break;
    case KeyedCallRequest::kCopyFile: {
      auto* copy = call.mutable_copy_file();
      copy->set_source_path(NormalisedPath(copy->source_path()));
      copy->set_destination_path(NormalisedPath(copy->destination_path()));
      break;
    }
    case KeyedCallRequest::kTransaction:
      for (idem::v1::Step& step :
           *call.mutable_transaction()->mutable_steps()) {
        if (step.has_insert()) NormaliseInsert(step.mutable_insert());
        if (step.has_update()) NormaliseUpdate(step.mutable_update());
      }
      break;
    default:
      break;
  }
  return call;
}

std::string Deterministic(const KeyedCallRequest& request) {
  std::string out;
  google::protobuf::io::StringOutputStream stream(&out);
  google::protobuf::io::CodedOutputStream coded(&stream);
  coded.SetSerializationDeterministic(true);
  request.SerializeToCodedStream(&coded);
  coded.Trim();
  return out;
}

// The same message with every map's entries inserted in reverse order.
void ReverseRow(Row* row) {
  std::vector<std::pair<std::string, Value>> entries(row->columns().begin(),
                                                     row->columns().end());
  row->clear_columns();
  for (auto it = entries.rbegin(); it != entries.rend(); ++it) {
    (*row->mutable_columns())[it->first] = it->second;
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // Invalid UTF-8 in a string field makes protobuf log every time.
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  KeyedCallRequest request;
  if (!request.ParseFromArray(data, static_cast<int>(size))) return 0;

  const std::string encoding = idem::keys::CanonicalEncoding(request);
  if (idem::keys::CanonicalEncoding(request) != encoding) {
    Fail("CanonicalEncoding is not deterministic");
  }
  const std::string fingerprint = idem::keys::Fingerprint(request);
  if (fingerprint.size() != 32) Fail("fingerprint is not 32 bytes");

  // Through the wire again, maps in another order.
  KeyedCallRequest copy;
  if (!copy.ParseFromString(request.SerializeAsString())) {
    Fail("a parsed request does not parse after reserializing");
  }
  if (copy.has_insert()) {
    for (Row& row : *copy.mutable_insert()->mutable_rows()) ReverseRow(&row);
  } else if (copy.has_update()) {
    ReverseRow(copy.mutable_update()->mutable_key());
    ReverseRow(copy.mutable_update()->mutable_set());
    ReverseRow(copy.mutable_update()->mutable_increment());
  }
  KeyedCallRequest reparsed;
  if (!reparsed.ParseFromString(copy.SerializeAsString())) {
    Fail("a reordered request does not parse");
  }
  if (idem::keys::CanonicalEncoding(reparsed) != encoding) {
    Fail("reserializing changed the canonical encoding");
  }
  if (idem::keys::Fingerprint(reparsed) != fingerprint) {
    Fail("reserializing changed the fingerprint");
  }

  // Unambiguous: the encoding decodes back to exactly this call.
  KeyedCallRequest decoded;
  Decoder decoder(encoding);
  if (!decoder.ReadCall(&decoded) || !decoder.Done()) {
    Fail("the canonical encoding does not decode");
  }
  KeyedCallRequest expected = Normalised(request);
  // The encoding cannot tell an absent Row from an empty one.
  auto fill_rows = [](idem::v1::UpdateRequest* update) {
    update->mutable_key();
    update->mutable_set();
    update->mutable_increment();
  };
  if (decoded.has_update()) fill_rows(decoded.mutable_update());
  if (expected.has_update()) fill_rows(expected.mutable_update());
  for (auto* call : {&decoded, &expected}) {
    for (idem::v1::Step& step : *call->mutable_transaction()->mutable_steps()) {
      if (step.has_update()) fill_rows(step.mutable_update());
    }
    if (!call->has_transaction()) call->clear_transaction();
  }
  if (Deterministic(decoded) != Deterministic(expected)) {
    std::fprintf(stderr, "request:  %s\ndecoded:  %s\n",
                 expected.ShortDebugString().c_str(),
                 decoded.ShortDebugString().c_str());
    Fail("the canonical encoding lost part of the call");
  }
  return 0;
}
