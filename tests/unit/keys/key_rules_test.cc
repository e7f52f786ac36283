#include "service/keys/key_rules.h"

#include <gtest/gtest.h>

#include <string>

namespace idem::keys {
namespace {

void ExpectRefused(const std::string& key) {
  absl::Status status = ValidateIdempotencyKey(key);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument)
      << "key of " << key.size() << " bytes: " << status;
  EXPECT_NE(status.message().find("idempotency_key"), absl::string_view::npos)
      << status;
}

TEST(KeyRulesTest, RefusesTheEmptyKey) { ExpectRefused(""); }

TEST(KeyRulesTest, RefusesAKeyOf256Characters) {
  ExpectRefused(std::string(256, 'k'));
}

TEST(KeyRulesTest, AcceptsAKeyOf255Characters) {
  EXPECT_TRUE(ValidateIdempotencyKey(std::string(255, 'k')).ok());
}

TEST(KeyRulesTest, AcceptsEveryPrintableAsciiCharacter) {
  std::string all;
  for (char c = 0x21; c <= 0x7e; ++c) all += c;
  EXPECT_TRUE(ValidateIdempotencyKey(all).ok());
  EXPECT_TRUE(ValidateIdempotencyKey("a").ok());
  EXPECT_TRUE(ValidateIdempotencyKey("order-42/attempt:1").ok());
}

TEST(KeyRulesTest, RefusesSpaceAndDelete) {
  ExpectRefused("with space");
  ExpectRefused(" leading");
  ExpectRefused("trailing ");
  ExpectRefused(std::string("del\x7f", 4));
}

TEST(KeyRulesTest, RefusesControlCharacters) {
  for (int c = 0; c < 0x20; ++c) {
    SCOPED_TRACE(c);
    ExpectRefused(std::string("key") + static_cast<char>(c) + "x");
  }
  ExpectRefused(std::string("nul\0byte", 8));
}

TEST(KeyRulesTest, RefusesUtf8) {
  ExpectRefused("cl\xc3\xa9");         // é
  ExpectRefused("\xe2\x9c\x93-done");  // ✓
  ExpectRefused(std::string(1, '\xff'));
}

TEST(KeyRulesTest, NamesTheOffendingByte) {
  absl::Status status = ValidateIdempotencyKey("ab c");
  EXPECT_NE(status.message().find("byte 2"), absl::string_view::npos) << status;
  EXPECT_NE(status.message().find("0x20"), absl::string_view::npos) << status;
}

}  // namespace
}  // namespace idem::keys
