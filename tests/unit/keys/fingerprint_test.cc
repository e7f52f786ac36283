#include "service/keys/fingerprint.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/wire_format_lite.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "service/common/sha256.h"
#include "tests/support/values.h"

namespace idem::keys {
namespace {

using google::protobuf::internal::WireFormatLite;

using testing::Bool;
using testing::Bytes;
using testing::Dbl;
using testing::Int;
using testing::Null;
using testing::Str;

using Columns = std::vector<std::pair<std::string, v1::Value>>;

// A row whose map entries are inserted in the given order.
v1::Row RowOf(const Columns& columns) {
  v1::Row row;
  for (const auto& [name, value] : columns) {
    (*row.mutable_columns())[name] = value;
  }
  return row;
}

Columns Reversed(Columns columns) {
  return Columns(columns.rbegin(), columns.rend());
}

// An Insert of two rows with one column of every kind.
Columns WideRow(int64_t id) {
  return {{"id", Int(id)},
          {"price", Dbl(2.5)},
          {"name", Str("widget")},
          {"blob", Bytes(std::string("\0\1", 2))},
          {"active", Bool(true)},
          {"note", Null()},
          {"created", Str("2024-01-02T03:04:05Z")}};
}

v1::KeyedCallRequest InsertCall(const std::vector<Columns>& rows,
                                const std::string& key = "key-1") {
  v1::KeyedCallRequest request;
  request.set_idempotency_key(key);
  v1::InsertRequest* insert = request.mutable_insert();
  insert->set_table("public.items");
  insert->set_on_conflict(v1::ON_CONFLICT_DO_UPDATE);
  insert->set_version_column("version");
  for (const Columns& row : rows) *insert->add_rows() = RowOf(row);
  return request;
}

v1::KeyedCallRequest UpdateCall(const Columns& key, const Columns& set,
                                const Columns& increment) {
  v1::KeyedCallRequest request;
  request.set_idempotency_key("key-1");
  v1::UpdateRequest* update = request.mutable_update();
  update->set_table("counters");
  *update->mutable_key() = RowOf(key);
  *update->mutable_set() = RowOf(set);
  *update->mutable_increment() = RowOf(increment);
  return request;
}

v1::KeyedCallRequest CopyCall(const std::string& source,
                              const std::string& destination) {
  v1::KeyedCallRequest request;
  request.set_idempotency_key("key-1");
  request.mutable_copy_file()->set_source_path(source);
  request.mutable_copy_file()->set_destination_path(destination);
  return request;
}

// Writes protobuf wire format field by field, in whatever order the test
// chooses: what another client library may legally send.
class Wire {
 public:
  Wire& Varint(int field, uint64_t value) {
    Write([&](google::protobuf::io::CodedOutputStream& out) {
      out.WriteTag(
          WireFormatLite::MakeTag(field, WireFormatLite::WIRETYPE_VARINT));
      out.WriteVarint64(value);
    });
    return *this;
  }
  Wire& Fixed64(int field, uint64_t value) {
    Write([&](google::protobuf::io::CodedOutputStream& out) {
      out.WriteTag(
          WireFormatLite::MakeTag(field, WireFormatLite::WIRETYPE_FIXED64));
      out.WriteLittleEndian64(value);
    });
    return *this;
  }
  Wire& Bytes(int field, const std::string& payload) {
    Write([&](google::protobuf::io::CodedOutputStream& out) {
      out.WriteTag(WireFormatLite::MakeTag(
          field, WireFormatLite::WIRETYPE_LENGTH_DELIMITED));
      out.WriteVarint32(static_cast<uint32_t>(payload.size()));
      out.WriteString(payload);
    });
    return *this;
  }
  Wire& Message(int field, const Wire& message) {
    return Bytes(field, message.bytes());
  }
  const std::string& bytes() const { return bytes_; }

 private:
  void Write(
      const std::function<void(google::protobuf::io::CodedOutputStream&)>&
          write) {
    google::protobuf::io::StringOutputStream stream(&bytes_);
    google::protobuf::io::CodedOutputStream out(&stream);
    write(out);
  }

  std::string bytes_;
};

uint64_t DoubleBits(double value) {
  uint64_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  return bits;
}

// A map entry with the value written before the key.
Wire ValueFirstEntry(const std::string& name, const Wire& value) {
  return Wire().Message(2, value).Bytes(1, name);
}

v1::KeyedCallRequest Parse(const Wire& wire) {
  v1::KeyedCallRequest request;
  EXPECT_TRUE(request.ParseFromString(wire.bytes()));
  return request;
}

std::string Hex(const std::string& bytes) {
  return absl::BytesToHexString(bytes);
}

TEST(FingerprintTest, IsASha256OfTheCanonicalEncoding) {
  v1::KeyedCallRequest request = InsertCall({WideRow(1)});
  EXPECT_EQ(Fingerprint(request).size(), 32u);
  Sha256 hash;
  hash.Update(CanonicalEncoding(request));
  EXPECT_EQ(Fingerprint(request), hash.Digest());
}

TEST(FingerprintTest, IgnoresMapInsertionOrder) {
  v1::KeyedCallRequest forward = InsertCall({WideRow(1), WideRow(2)});
  v1::KeyedCallRequest backward =
      InsertCall({Reversed(WideRow(1)), Reversed(WideRow(2))});
  EXPECT_EQ(Hex(Fingerprint(forward)), Hex(Fingerprint(backward)));

  // Many columns, so that the maps' internal orders surely differ too.
  Columns many;
  for (int i = 0; i < 200; ++i) {
    many.emplace_back("column_" + std::to_string(i), Int(i));
  }
  EXPECT_EQ(Fingerprint(InsertCall({many})),
            Fingerprint(InsertCall({Reversed(many)})));

  Columns key = {{"tenant", Str("t")}, {"id", Int(7)}};
  Columns set = {{"name", Str("n")}, {"flag", Bool(false)}};
  Columns increment = {{"hits", Int(1)}, {"bytes", Int(100)}};
  EXPECT_EQ(Fingerprint(UpdateCall(key, set, increment)),
            Fingerprint(
                UpdateCall(Reversed(key), Reversed(set), Reversed(increment))));
}

TEST(FingerprintTest, IgnoresWireFieldOrder) {
  v1::KeyedCallRequest expected;
  expected.set_idempotency_key("key-1");
  v1::InsertRequest* insert = expected.mutable_insert();
  insert->set_table("public.items");
  insert->set_on_conflict(v1::ON_CONFLICT_DO_UPDATE);
  insert->set_version_column("version");
  *insert->add_rows() = RowOf({{"id", Int(-5)},
                               {"price", Dbl(2.5)},
                               {"name", Str("widget")},
                               {"active", Bool(true)},
                               {"note", Null()}});

  // The same call written backwards: the oneof before the key, the rows
  // before the table, map entries reversed and each entry's value before
  // its name.
  Wire row;
  row.Message(1, ValueFirstEntry("note", Wire().Varint(1, 0)))
      .Message(1, ValueFirstEntry("active", Wire().Varint(2, 1)))
      .Message(1, ValueFirstEntry("name", Wire().Bytes(5, "widget")))
      .Message(1, ValueFirstEntry("price", Wire().Fixed64(4, DoubleBits(2.5))))
      .Message(1, ValueFirstEntry("id", Wire().Varint(3, uint64_t(-5))));
  Wire insert_wire;
  insert_wire.Bytes(4, "version")
      .Message(2, row)
      .Varint(3, v1::ON_CONFLICT_DO_UPDATE)
      .Bytes(1, "public.items");
  Wire call;
  call.Message(2, insert_wire).Bytes(1, "key-1");

  v1::KeyedCallRequest parsed = Parse(call);
  ASSERT_NE(call.bytes(), expected.SerializeAsString());
  EXPECT_EQ(Hex(Fingerprint(parsed)), Hex(Fingerprint(expected)));
  EXPECT_EQ(CanonicalEncoding(parsed), CanonicalEncoding(expected));
}

TEST(FingerprintTest, IgnoresWireFieldOrderOfUpdateAndCopy) {
  v1::KeyedCallRequest update =
      UpdateCall({{"id", Int(1)}}, {{"name", Str("x")}}, {{"n", Int(3)}});
  update.mutable_update()->set_version_column("v");
  Wire update_wire;
  update_wire.Bytes(5, "v")
      .Message(4, Wire().Message(1, ValueFirstEntry("n", Wire().Varint(3, 3))))
      .Message(3,
               Wire().Message(1, ValueFirstEntry("name", Wire().Bytes(5, "x"))))
      .Message(2, Wire().Message(1, ValueFirstEntry("id", Wire().Varint(3, 1))))
      .Bytes(1, "counters");
  EXPECT_EQ(Fingerprint(Parse(Wire().Message(3, update_wire).Bytes(1, "k"))),
            Fingerprint(update));

  v1::KeyedCallRequest copy = CopyCall("in/a.txt", "out/b.txt");
  Wire copy_wire;
  copy_wire.Bytes(2, "out/b.txt").Bytes(1, "in/a.txt");
  EXPECT_EQ(Fingerprint(Parse(Wire().Message(4, copy_wire))),
            Fingerprint(copy));
}

TEST(FingerprintTest, DoesNotDependOnTheKey) {
  EXPECT_EQ(Fingerprint(InsertCall({WideRow(1)}, "a")),
            Fingerprint(InsertCall({WideRow(1)}, "b")));
}

TEST(FingerprintTest, UnspecifiedConflictPolicyIsDoNothing) {
  v1::KeyedCallRequest unspecified = InsertCall({WideRow(1)});
  unspecified.mutable_insert()->set_on_conflict(v1::ON_CONFLICT_UNSPECIFIED);
  v1::KeyedCallRequest do_nothing = unspecified;
  do_nothing.mutable_insert()->set_on_conflict(v1::ON_CONFLICT_DO_NOTHING);
  v1::KeyedCallRequest do_update = unspecified;
  do_update.mutable_insert()->set_on_conflict(v1::ON_CONFLICT_DO_UPDATE);
  EXPECT_EQ(Fingerprint(unspecified), Fingerprint(do_nothing));
  EXPECT_NE(Fingerprint(unspecified), Fingerprint(do_update));
}

TEST(FingerprintTest, NegativeZeroIsZero) {
  EXPECT_EQ(Fingerprint(InsertCall({{{"x", Dbl(-0.0)}}})),
            Fingerprint(InsertCall({{{"x", Dbl(0.0)}}})));
}

// PostgreSQL stores every NaN as one value: so does the fingerprint.
TEST(FingerprintTest, EveryNanIsOneNan) {
  const double quiet = std::numeric_limits<double>::quiet_NaN();
  double payload;
  const uint64_t bits = 0xfff0000000000123;  // negative, with a payload
  std::memcpy(&payload, &bits, sizeof(payload));
  ASSERT_TRUE(std::isnan(payload));
  EXPECT_EQ(Fingerprint(InsertCall({{{"x", Dbl(payload)}}})),
            Fingerprint(InsertCall({{{"x", Dbl(quiet)}}})));
  EXPECT_EQ(Fingerprint(InsertCall({{{"x", Dbl(-quiet)}}})),
            Fingerprint(InsertCall({{{"x", Dbl(quiet)}}})));
  EXPECT_NE(Fingerprint(InsertCall({{{"x", Dbl(quiet)}}})),
            Fingerprint(InsertCall({{{"x", Dbl(1.0)}}})));
}

// A copy is fingerprinted by the files it names, not by how their paths
// were spelled.
TEST(FingerprintTest, CopyPathsAsTheyResolve) {
  EXPECT_EQ(Fingerprint(CopyCall("in/./a.csv", "./out/a.csv")),
            Fingerprint(CopyCall("in/a.csv", "out/a.csv")));
  EXPECT_NE(Fingerprint(CopyCall("in/a.csv", "out/b.csv")),
            Fingerprint(CopyCall("in/a.csv", "out/a.csv")));
  // Paths the copy refuses keep their spelling.
  EXPECT_NE(Fingerprint(CopyCall("in//a.csv", "out/a.csv")),
            Fingerprint(CopyCall("in/a.csv", "out/a.csv")));
}

// Every variant differs from the base call and from every other variant.
TEST(FingerprintTest, AnyChangedValueChangesIt) {
  using Mutation = std::function<void(v1::KeyedCallRequest&)>;
  const v1::KeyedCallRequest base = InsertCall({WideRow(1), WideRow(2)});
  auto row0 = [](v1::KeyedCallRequest& r) {
    return r.mutable_insert()->mutable_rows(0)->mutable_columns();
  };
  std::vector<std::pair<std::string, Mutation>> insert_mutations = {
      {"table", [](auto& r) { r.mutable_insert()->set_table("public.item"); }},
      {"table schema", [](auto& r) { r.mutable_insert()->set_table("items"); }},
      {"on_conflict",
       [](auto& r) {
         r.mutable_insert()->set_on_conflict(v1::ON_CONFLICT_DO_NOTHING);
       }},
      {"version_column",
       [](auto& r) { r.mutable_insert()->set_version_column("rev"); }},
      {"no version_column",
       [](auto& r) { r.mutable_insert()->clear_version_column(); }},
      {"column name",
       [&](auto& r) {
         auto* columns = row0(r);
         (*columns)["Name"] = (*columns)["name"];
         columns->erase("name");
       }},
      {"int value", [&](auto& r) { (*row0(r))["id"] = Int(3); }},
      {"int as double", [&](auto& r) { (*row0(r))["id"] = Dbl(1.0); }},
      {"int as string", [&](auto& r) { (*row0(r))["id"] = Str("1"); }},
      {"double value", [&](auto& r) { (*row0(r))["price"] = Dbl(2.25); }},
      {"string value", [&](auto& r) { (*row0(r))["name"] = Str("widgeT"); }},
      {"string as bytes",
       [&](auto& r) { (*row0(r))["name"] = Bytes("widget"); }},
      {"bytes value",
       [&](auto& r) { (*row0(r))["blob"] = Bytes(std::string("\0\2", 2)); }},
      {"bool value", [&](auto& r) { (*row0(r))["active"] = Bool(false); }},
      {"null as unset", [&](auto& r) { (*row0(r))["note"] = v1::Value(); }},
      {"null as empty string", [&](auto& r) { (*row0(r))["note"] = Str(""); }},
      {"extra column", [&](auto& r) { (*row0(r))["extra"] = Null(); }},
      {"missing column", [&](auto& r) { row0(r)->erase("note"); }},
      {"rows swapped",
       [](auto& r) { r.mutable_insert()->mutable_rows()->SwapElements(0, 1); }},
      {"row removed",
       [](auto& r) { r.mutable_insert()->mutable_rows()->RemoveLast(); }},
      {"row added",
       [](auto& r) { *r.mutable_insert()->add_rows() = v1::Row(); }},
      // Length prefixes: moving bytes between a name and its value.
      {"boundary",
       [&](auto& r) {
         auto* columns = row0(r);
         columns->erase("name");
         (*columns)["namew"] = Str("idget");
       }},
  };
  std::vector<std::pair<std::string, v1::KeyedCallRequest>> variants = {
      {"base", base}};
  for (const auto& [name, mutate] : insert_mutations) {
    v1::KeyedCallRequest changed = base;
    mutate(changed);
    variants.emplace_back(name, changed);
  }

  Columns key = {{"id", Int(1)}};
  Columns set = {{"name", Str("x")}};
  Columns inc = {{"n", Int(1)}};
  variants.emplace_back("update", UpdateCall(key, set, inc));
  variants.emplace_back(
      "update key vs set",
      UpdateCall({}, {{"id", Int(1)}, {"name", Str("x")}}, inc));
  variants.emplace_back(
      "update set vs increment",
      UpdateCall(key, {}, {{"name", Str("x")}, {"n", Int(1)}}));
  variants.emplace_back(
      "update set vs key",
      UpdateCall({{"id", Int(1)}, {"name", Str("x")}}, {}, inc));
  variants.emplace_back("update increment 2",
                        UpdateCall(key, set, {{"n", Int(2)}}));
  variants.emplace_back("update increment double",
                        UpdateCall(key, set, {{"n", Dbl(1)}}));
  v1::KeyedCallRequest guarded = UpdateCall(key, set, inc);
  guarded.mutable_update()->set_version_column("name");
  variants.emplace_back("update version_column", guarded);
  v1::KeyedCallRequest other_table = UpdateCall(key, set, inc);
  other_table.mutable_update()->set_table("counters2");
  variants.emplace_back("update table", other_table);

  variants.emplace_back("copy", CopyCall("a/b", "c/d"));
  variants.emplace_back("copy source", CopyCall("a/B", "c/d"));
  variants.emplace_back("copy destination", CopyCall("a/b", "c/e"));
  variants.emplace_back("copy swapped", CopyCall("c/d", "a/b"));
  variants.emplace_back("copy boundary", CopyCall("a/bc", "/d"));
  v1::KeyedCallRequest empty_insert;
  empty_insert.mutable_insert();
  variants.emplace_back("empty insert", empty_insert);
  v1::KeyedCallRequest empty_update;
  empty_update.mutable_update();
  variants.emplace_back("empty update", empty_update);
  v1::KeyedCallRequest empty_copy;
  empty_copy.mutable_copy_file();
  variants.emplace_back("empty copy", empty_copy);

  std::map<std::string, std::string> seen;  // fingerprint -> variant
  for (const auto& [name, request] : variants) {
    auto [it, inserted] = seen.emplace(Fingerprint(request), name);
    EXPECT_TRUE(inserted) << "\"" << name << "\" has the fingerprint of \""
                          << it->second << "\"";
  }
}

// Pins the encoding that docs/keyed-call.md specifies, byte by byte, so
// that another language can reproduce it and so that it never drifts:
// stored keys outlive server releases.
std::string U64(uint64_t value) {
  std::string out;
  for (int shift = 56; shift >= 0; shift -= 8) {
    out += static_cast<char>((value >> shift) & 0xff);
  }
  return out;
}

std::string Lp(const std::string& bytes) { return U64(bytes.size()) + bytes; }

TEST(FingerprintTest, MatchesTheDocumentedInsertEncoding) {
  v1::KeyedCallRequest request;
  request.set_idempotency_key("order-42");
  v1::InsertRequest* insert = request.mutable_insert();
  insert->set_table("orders");
  *insert->add_rows() = RowOf({{"qty", Int(-2)},
                               {"id", Int(42)},
                               {"price", Dbl(9.5)},
                               {"paid", Bool(true)},
                               {"note", Null()},
                               {"raw", Bytes("\x01")},
                               {"name", Str("Zoë")}});
  std::string expected =
      Lp("idem.v1.KeyedCall/1") + "I" + Lp("orders") + U64(1) /* DO_NOTHING */ +
      Lp("") + U64(1) + "r" + U64(7) + Lp("id") + "i" + U64(42) + Lp("name") +
      "s" + Lp("Zo\xc3\xab") + Lp("note") + "n" + Lp("paid") + "t" +
      Lp("price") + "d" + U64(0x4023000000000000) + Lp("qty") + "i" +
      U64(0xfffffffffffffffe) + Lp("raw") + "b" + Lp("\x01");
  EXPECT_EQ(Hex(CanonicalEncoding(request)), Hex(expected));
  EXPECT_EQ(Hex(Fingerprint(request)),
            "13a64db92d2bb394558e374d4c7410a2848160e68b9c46b44a16f9e662851457");
}

TEST(FingerprintTest, MatchesTheDocumentedUpdateEncoding) {
  v1::KeyedCallRequest request;
  request.set_idempotency_key("bump-7");
  v1::UpdateRequest* update = request.mutable_update();
  update->set_table("public.counters");
  *update->mutable_key() = RowOf({{"id", Int(7)}});
  *update->mutable_increment() = RowOf({{"hits", Int(1)}});
  std::string expected = Lp("idem.v1.KeyedCall/1") + "U" +
                         Lp("public.counters") + "r" + U64(1) + Lp("id") + "i" +
                         U64(7) + "r" + U64(0) + "r" + U64(1) + Lp("hits") +
                         "i" + U64(1) + Lp("");
  EXPECT_EQ(Hex(CanonicalEncoding(request)), Hex(expected));
  EXPECT_EQ(Hex(Fingerprint(request)),
            "b2470e6b10f55020bf1de68640d29056a67de3b60c5f3c00552e08c8d2028ed3");
}

TEST(FingerprintTest, MatchesTheDocumentedCopyEncoding) {
  v1::KeyedCallRequest request = CopyCall("in/report.csv", "out/report.csv");
  std::string expected = Lp("idem.v1.KeyedCall/1") + "C" + Lp("in/report.csv") +
                         Lp("out/report.csv");
  EXPECT_EQ(Hex(CanonicalEncoding(request)), Hex(expected));
  EXPECT_EQ(Hex(Fingerprint(request)),
            "74107323a04b1e66f918027a688a38ba5f5cb00723d732e8922555126a6bc484");
}

TEST(FingerprintTest, SortsColumnNamesByteWise) {
  // Upper case sorts before lower case, "a" before "a_" before "b": plain
  // byte order, not a locale's.
  v1::KeyedCallRequest request = InsertCall(
      {{{"b", Null()}, {"a_", Null()}, {"a", Null()}, {"Z", Null()}}});
  request.mutable_insert()->set_version_column("");
  request.mutable_insert()->set_on_conflict(v1::ON_CONFLICT_UNSPECIFIED);
  std::string encoding = CanonicalEncoding(request);
  std::string names =
      Lp("Z") + "n" + Lp("a") + "n" + Lp("a_") + "n" + Lp("b") + "n";
  EXPECT_NE(encoding.find(names), std::string::npos) << Hex(encoding);
}

}  // namespace
}  // namespace idem::keys
