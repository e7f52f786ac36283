#include "service/db/connection_string.h"

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <stdlib.h>

#include <map>
#include <string>

namespace idem::db {
namespace {

// What libpq itself reads from `conninfo`: the proof that the added settings
// reach it, whichever form the string has.
std::map<std::string, std::string> Parsed(const std::string& conninfo) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(conninfo.c_str(), &error);
  EXPECT_NE(options, nullptr) << conninfo << ": " << (error ? error : "");
  PQfreemem(error);
  std::map<std::string, std::string> values;
  for (PQconninfoOption* o = options; o && o->keyword; ++o) {
    if (o->val != nullptr) values[o->keyword] = o->val;
  }
  PQconninfoFree(options);
  return values;
}

std::map<std::string, std::string> Server(const std::string& url,
                                          absl::Duration timeout) {
  absl::StatusOr<std::string> conninfo = ServerConnectionString(url, timeout);
  EXPECT_TRUE(conninfo.ok()) << conninfo.status();
  return conninfo.ok() ? Parsed(*conninfo)
                       : std::map<std::string, std::string>{};
}

TEST(TcpTimeoutsTest, GivesADeadConnectionUpAfterAboutTheTimeout) {
  const TcpTimeouts t = TcpTimeoutsFor(absl::Seconds(10));
  EXPECT_EQ(t.keepalives_idle_s, 5);
  EXPECT_EQ(t.keepalives_interval_s, 1);
  EXPECT_EQ(t.keepalives_count, 5);
  EXPECT_EQ(t.user_timeout_ms, 10000);
  EXPECT_EQ(t.connect_timeout_s, 10);
  for (int seconds : {2, 3, 7, 10, 15, 60, 3600}) {
    const TcpTimeouts s = TcpTimeoutsFor(absl::Seconds(seconds));
    const int probing =
        s.keepalives_idle_s + s.keepalives_count * s.keepalives_interval_s;
    EXPECT_GE(s.keepalives_idle_s, 1) << seconds;
    EXPECT_LE(probing, seconds + s.keepalives_interval_s) << seconds;
    EXPECT_GE(probing, seconds - s.keepalives_interval_s) << seconds;
  }
}

TEST(ServerConnectionStringTest, AddsTimeoutsAndPrimaryOnlyToKeyValueStrings) {
  std::map<std::string, std::string> v =
      Server("host=db1,db2 port=5432,5433 dbname=idem", absl::Seconds(10));
  EXPECT_EQ(v["host"], "db1,db2");
  EXPECT_EQ(v["port"], "5432,5433");
  EXPECT_EQ(v["target_session_attrs"], "read-write");
  EXPECT_EQ(v["keepalives"], "1");
  EXPECT_EQ(v["keepalives_idle"], "5");
  EXPECT_EQ(v["keepalives_interval"], "1");
  EXPECT_EQ(v["keepalives_count"], "5");
  EXPECT_EQ(v["tcp_user_timeout"], "10000");
  EXPECT_EQ(v["connect_timeout"], "10");
}

TEST(ServerConnectionStringTest, AddsToUrisWithAndWithoutAQuery) {
  for (const std::string url :
       {"postgresql://u@db1:5432,db2:5433/idem",
        "postgresql://u@db1/idem?sslmode=disable",
        "postgres://u@db1/idem?sslmode=disable&", "postgresql://db1/idem?"}) {
    std::map<std::string, std::string> v = Server(url, absl::Seconds(4));
    EXPECT_EQ(v["dbname"], "idem") << url;
    EXPECT_EQ(v["tcp_user_timeout"], "4000") << url;
    EXPECT_EQ(v["keepalives_idle"], "2") << url;
    EXPECT_EQ(v["target_session_attrs"], "read-write") << url;
  }
  EXPECT_EQ(Server("postgresql://u@db1/idem?sslmode=disable",
                   absl::Seconds(4))["sslmode"],
            "disable");
}

TEST(ServerConnectionStringTest, KeepsWhatTheStringSetsItself) {
  std::map<std::string, std::string> v = Server(
      "postgresql://db1/idem?keepalives_idle=30&target_session_attrs=any",
      absl::Seconds(10));
  EXPECT_EQ(v["keepalives_idle"], "30");
  EXPECT_EQ(v["target_session_attrs"], "any");
  EXPECT_EQ(v["keepalives_interval"], "1");
}

TEST(ServerConnectionStringTest, KeepsWhatLibpqsEnvironmentSets) {
  setenv("PGCONNECT_TIMEOUT", "42", 1);
  std::map<std::string, std::string> v = Server("", absl::Seconds(10));
  unsetenv("PGCONNECT_TIMEOUT");
  EXPECT_EQ(v.count("connect_timeout"), 0u);  // libpq reads the variable
  EXPECT_EQ(v["tcp_user_timeout"], "10000");
  EXPECT_EQ(v.count("host"), 0u);  // still libpq's PG* variables
}

TEST(ServerConnectionStringTest, ZeroTimeoutAddsOnlyPrimaryOnly) {
  std::map<std::string, std::string> v =
      Server("host=db1 dbname=idem", absl::ZeroDuration());
  EXPECT_EQ(v["target_session_attrs"], "read-write");
  EXPECT_EQ(v.count("keepalives_idle"), 0u);
  EXPECT_EQ(v.count("tcp_user_timeout"), 0u);
  EXPECT_EQ(v.count("connect_timeout"), 0u);
}

TEST(ServerConnectionStringTest, RefusesWhatLibpqCannotParseWithoutEchoingIt) {
  for (const std::string url :
       {"host=db1 password=s3cret nonsense", "postgresql://db1/idem?x=s3cret",
        "host='unterminated s3cret"}) {
    absl::StatusOr<std::string> conninfo =
        ServerConnectionString(url, absl::Seconds(10));
    EXPECT_EQ(conninfo.status().code(), absl::StatusCode::kInvalidArgument)
        << url;
    EXPECT_EQ(conninfo.status().message().find("s3cret"), std::string::npos);
  }
}

}  // namespace
}  // namespace idem::db
