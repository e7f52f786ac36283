#include "service/keys/fingerprint.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "service/common/sha256.h"
#include "service/files/relative_path.h"

namespace idem::keys {
namespace {

// Builds the canonical encoding: every item is a one-byte tag followed by
// its payload; strings and bytes are length-prefixed, integers are 8 bytes
// big-endian, so that no two different calls share an encoding.
class Encoder {
 public:
  void Tag(char tag) { out_ += tag; }
  void Uint(uint64_t value) {
    for (int shift = 56; shift >= 0; shift -= 8) {
      out_ += static_cast<char>((value >> shift) & 0xff);
    }
  }
  void Bytes(const std::string& bytes) {
    Uint(bytes.size());
    out_ += bytes;
  }
  void Value(const v1::Value& value) {
    switch (value.kind_case()) {
      case v1::Value::kNullValue:
        Tag('n');
        break;
      case v1::Value::kBoolValue:
        Tag(value.bool_value() ? 't' : 'f');
        break;
      case v1::Value::kIntValue:
        Tag('i');
        Uint(static_cast<uint64_t>(value.int_value()));
        break;
      case v1::Value::kDoubleValue: {
        Tag('d');
        double d = value.double_value();
        if (d == 0) d = 0;  // -0.0 and 0.0 are one value to PostgreSQL
        uint64_t bits;
        std::memcpy(&bits, &d, sizeof(bits));
        // So is every NaN, whatever its sign and payload bits.
        if (std::isnan(d)) bits = 0x7ff8000000000000;
        Uint(bits);
        break;
      }
      case v1::Value::kStringValue:
        Tag('s');
        Bytes(value.string_value());
        break;
      case v1::Value::kBytesValue:
        Tag('b');
        Bytes(value.bytes_value());
        break;
      case v1::Value::KIND_NOT_SET:
        Tag('0');
        break;
    }
  }
  // Map entries sorted by column name: map order never matters.
  void Row(const v1::Row& row) {
    std::vector<const std::string*> names;
    for (const auto& [name, value] : row.columns()) names.push_back(&name);
    std::sort(
        names.begin(), names.end(),
        [](const std::string* a, const std::string* b) { return *a < *b; });
    Tag('r');
    Uint(names.size());
    for (const std::string* name : names) {
      Bytes(*name);
      Value(row.columns().at(*name));
    }
  }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

// A path as the copy resolves it: "a/./b" and "./a/b" name the file "a/b"
// does. A path the copy would refuse stays as it was sent (the refusal is
// stored under the key like any deterministic failure).
std::string CanonicalPath(const std::string& path) {
  absl::StatusOr<files::RelativePath> parsed =
      files::ParseRelativePath("path", path);
  return parsed.ok() ? parsed->Joined() : path;
}

void EncodeInsert(const v1::InsertRequest& insert, Encoder& e) {
  e.Tag('I');
  e.Bytes(insert.table());
  // UNSPECIFIED means DO_NOTHING: one call, one fingerprint.
  int on_conflict = insert.on_conflict() == v1::ON_CONFLICT_UNSPECIFIED
                        ? v1::ON_CONFLICT_DO_NOTHING
                        : insert.on_conflict();
  e.Uint(static_cast<uint64_t>(on_conflict));
  e.Bytes(insert.version_column());
  e.Uint(insert.rows_size());
  for (const v1::Row& row : insert.rows()) e.Row(row);
  // Only when asked for, so that every insert that asks for nothing keeps
  // the fingerprint it always had.
  if (!insert.returning().empty()) {
    e.Tag('R');
    e.Uint(insert.returning_size());
    for (const std::string& column : insert.returning()) e.Bytes(column);
  }
}

void EncodeUpdate(const v1::UpdateRequest& update, Encoder& e) {
  e.Tag('U');
  e.Bytes(update.table());
  e.Row(update.key());
  e.Row(update.set());
  e.Row(update.increment());
  e.Bytes(update.version_column());
}

}  // namespace

std::string CanonicalEncoding(const v1::KeyedCallRequest& request) {
  Encoder e;
  e.Bytes("idem.v1.KeyedCall/1");
  switch (request.call_case()) {
    case v1::KeyedCallRequest::kInsert:
      EncodeInsert(request.insert(), e);
      break;
    case v1::KeyedCallRequest::kUpdate:
      EncodeUpdate(request.update(), e);
      break;
    case v1::KeyedCallRequest::kCopyFile:
      e.Tag('C');
      e.Bytes(CanonicalPath(request.copy_file().source_path()));
      e.Bytes(CanonicalPath(request.copy_file().destination_path()));
      break;
    case v1::KeyedCallRequest::kTransaction:
      // Every step, in order: the same steps in another order are another
      // call.
      e.Tag('T');
      e.Uint(request.transaction().steps_size());
      for (const v1::Step& step : request.transaction().steps()) {
        e.Tag(step.require_applied() ? 'A' : 'a');
        switch (step.op_case()) {
          case v1::Step::kInsert:
            EncodeInsert(step.insert(), e);
            break;
          case v1::Step::kUpdate:
            EncodeUpdate(step.update(), e);
            break;
          case v1::Step::OP_NOT_SET:
            e.Tag('0');
            break;
        }
      }
      break;
    case v1::KeyedCallRequest::CALL_NOT_SET:
      e.Tag('0');
      break;
  }
  return e.Take();
}

std::string Fingerprint(const v1::KeyedCallRequest& request) {
  Sha256 hash;
  hash.Update(CanonicalEncoding(request));
  return hash.Digest();
}

}  // namespace idem::keys
