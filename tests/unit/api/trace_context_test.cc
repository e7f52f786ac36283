// The trace id of a W3C traceparent header, and headers that are ignored.
#include "service/api/trace_context.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace idem::api {
namespace {

constexpr char kTraceId[] = "4bf92f3577b34da6a3ce929d0e0e4736";

TEST(TraceContextTest, TakesTheTraceIdOfAWellFormedHeader) {
  EXPECT_EQ(TraceIdOf(std::string("00-") + kTraceId + "-00f067aa0ba902b7-01"),
            kTraceId);
  // A later version may append fields.
  EXPECT_EQ(
      TraceIdOf(std::string("01-") + kTraceId + "-00f067aa0ba902b7-00-extra"),
      kTraceId);
}

TEST(TraceContextTest, IgnoresAMalformedHeader) {
  const std::string id = kTraceId;
  for (const std::string& header : std::vector<std::string>{
           "",
           "00-" + id + "-00f067aa0ba902b7",           // no flags
           "00-" + id + "-00f067aa0ba902b7-01-extra",  // version 00 ends there
           "ff-" + id + "-00f067aa0ba902b7-01",        // version ff
           "00-" + id.substr(1) + "0-00f067aa0ba902b7-01x",
           "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
           "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
           "00-" + id + "-0000000000000000-01",  // zero parent id
           "00-" + id + "-00f067aa0ba902b7-0g",  // flags not hex
           "00_" + id + "-00f067aa0ba902b7-01",  // separator
           "0-" + id + "-00f067aa0ba902b7-01",   // short version
       }) {
    EXPECT_FALSE(TraceIdOf(header).has_value()) << header;
  }
}

}  // namespace
}  // namespace idem::api
