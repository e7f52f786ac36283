#include "service/api/log_safe_message.h"

#include <gtest/gtest.h>

namespace idem::api {
namespace {

TEST(LogSafeMessage, WithholdsTheValuesPostgresQuotes) {
  EXPECT_EQ(LogSafeMessage(
                "invalid input syntax for type bigint: \"jane@example.com\""),
            "invalid input syntax for type bigint: \"...\"");
  EXPECT_EQ(LogSafeMessage("value \"99999999999\" is out of range for type "
                           "integer"),
            "value \"...\" is out of range for type integer");
  EXPECT_EQ(LogSafeMessage("\"1e999\" is out of range for type real"),
            "\"...\" is out of range for type real");
  EXPECT_EQ(LogSafeMessage("step 2: date/time field value out of range: "
                           "\"2024-13-45\""),
            "step 2: date/time field value out of range: \"...\"");
  EXPECT_EQ(LogSafeMessage("time zone \"Mars/Olympus\" not recognized"),
            "time zone \"...\" not recognized");
}

TEST(LogSafeMessage, QuotesInsideAValueDoNotEndIt) {
  EXPECT_EQ(
      LogSafeMessage("invalid input syntax for type integer: \"x\"y\" z\"\""),
      "invalid input syntax for type integer: \"...\"");
  EXPECT_EQ(LogSafeMessage("malformed array literal: \"{unclosed"),
            "malformed array literal: \"...\"");
}

TEST(LogSafeMessage, KeepsNames) {
  for (const char* named :
       {"null value in column \"n\" of relation \"t\" violates not-null "
        "constraint",
        "duplicate key value violates unique constraint \"t_pkey\"",
        "column \"age\" has type integer and cannot take a bool value",
        "table \"orders\" is not served", "no quotes at all", ""}) {
    EXPECT_EQ(LogSafeMessage(named), named);
  }
}

}  // namespace
}  // namespace idem::api
