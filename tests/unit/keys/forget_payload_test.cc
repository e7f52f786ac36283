// The payload of a forget notification names its key unambiguously,
// whatever the tenant holds.
#include <gtest/gtest.h>

#include "service/keys/forget_listener.h"
#include "service/keys/key_store.h"

namespace idem::keys {
namespace {

TEST(ForgetPayloadTest, ParsesWhatForgetPayloadMade) {
  for (const KeyId& id : {KeyId{"default", "order-42"}, KeyId{"a:1", "2:b"},
                          KeyId{"", "k"}, KeyId{"12", "34"}}) {
    std::optional<KeyId> parsed = ParseForgetPayload(ForgetPayload(id));
    ASSERT_TRUE(parsed.has_value()) << ForgetPayload(id);
    EXPECT_EQ(parsed->tenant, id.tenant);
    EXPECT_EQ(parsed->key, id.key);
  }
}

TEST(ForgetPayloadTest, RefusesAnythingElse) {
  for (const char* payload :
       {"", "default", "7:default", "8:default", ":key", "x:key", "-1:ab"}) {
    EXPECT_FALSE(ParseForgetPayload(payload).has_value()) << payload;
  }
}

}  // namespace
}  // namespace idem::keys
