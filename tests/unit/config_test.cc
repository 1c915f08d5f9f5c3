// The config file: defaults, overrides, and a clear exit-2 error for every bad key.
#include "config/config.h"

#include <gtest/gtest.h>

#include "common/error.h"

namespace dbrefresh {
namespace {

TEST(Config, EmptyObjectGivesTheDocumentedDefaults) {
  Config c = ParseConfig("{}", "test");
  EXPECT_EQ(c.schema, "public");
  ASSERT_EQ(c.preserve.size(), 3u);
  EXPECT_EQ(c.preserve[0].table, "users");
  EXPECT_EQ(c.strategy, "schema");
  EXPECT_EQ(c.on_conflict, "skip");
  EXPECT_EQ(c.jobs, 2);
}

TEST(Config, ReadsTheSpecExample) {
  Config c = ParseConfig(R"({"schema": "app", "preserve": [{"table": "users", "match_on": ["delius_username"],
      "defaults": {"delius_staff_code": "UNKNOWN"}}, {"table": "user_role_assignments"}],
      "strategy": "swap", "jobs": 4, "post_restore_command": ["kubectl", "rollout"], "terminate_connections": true})",
                         "test");
  EXPECT_EQ(c.schema, "app");
  ASSERT_EQ(c.preserve.size(), 2u);
  EXPECT_EQ(c.preserve[0].match_on, std::vector<std::string>{"delius_username"});
  EXPECT_EQ(c.preserve[0].defaults.at("delius_staff_code"), "UNKNOWN");
  EXPECT_EQ(c.strategy, "swap");
  EXPECT_EQ(c.jobs, 4);
  EXPECT_TRUE(c.terminate_connections);
}

TEST(Config, StreamMinTableMbDefaultsToEightAndTakesItsWholeRange) {
  EXPECT_EQ(ParseConfig("{}", "test").stream_min_table_mb, 8);
  for (int mb : {-1, 0, 1, 16777216}) {
    EXPECT_EQ(ParseConfig(R"({"stream_min_table_mb": )" + std::to_string(mb) + "}", "test").stream_min_table_mb, mb);
  }
}

struct BadConfig {
  const char* json;
  const char* named;  // the key the error must name
};

class BadConfigCases : public ::testing::TestWithParam<BadConfig> {};

TEST_P(BadConfigCases, IsAUsageErrorNamingTheKey) {
  try {
    ParseConfig(GetParam().json, "bad.json");
    FAIL() << "accepted " << GetParam().json;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kUsage);
    EXPECT_NE(std::string(e.what()).find(GetParam().named), std::string::npos) << e.what();
  }
}

INSTANTIATE_TEST_SUITE_P(
    UnknownKeysWrongTypesHugeNumbers, BadConfigCases,
    ::testing::Values(BadConfig{R"({"shcema": "x"})", "shcema"}, BadConfig{R"({"jobs": "2"})", "jobs"},
                      BadConfig{R"({"jobs": 99999999999999999})", "jobs"}, BadConfig{R"({"jobs": 0})", "jobs"},
                      BadConfig{R"({"strategy": "yolo"})", "strategy"},
                      BadConfig{R"({"preserve": [{"tabel": "users"}]})", "preserve[0].tabel"},
                      BadConfig{R"({"preserve": []})", "preserve"},
                      BadConfig{R"({"preserve": [{"table": "users", "defaults": {"x": 1}}]})", "preserve[0].defaults.x"},
                      BadConfig{R"({"terminate_connections": "yes"})", "terminate_connections"},
                      BadConfig{R"([1, 2])", "JSON object"}, BadConfig{R"({"schema": )", "not valid JSON"},
                      BadConfig{R"({"jobs": 1e400})", "not valid JSON"}));

// stream_min_table_mb: an integer from -1 (never stream) to 16777216 (16 TiB); nothing else.
INSTANTIATE_TEST_SUITE_P(
    StreamMinTableMb, BadConfigCases,
    ::testing::Values(BadConfig{R"({"stream_min_table_mb": -2})", "stream_min_table_mb"},
                      BadConfig{R"({"stream_min_table_mb": 16777217})", "stream_min_table_mb"},
                      BadConfig{R"({"stream_min_table_mb": 4294967295})", "stream_min_table_mb"},
                      BadConfig{R"({"stream_min_table_mb": 9223372036854775807})", "stream_min_table_mb"},
                      BadConfig{R"({"stream_min_table_mb": -9223372036854775808})", "stream_min_table_mb"},
                      BadConfig{R"({"stream_min_table_mb": "8"})", "stream_min_table_mb"},
                      BadConfig{R"({"stream_min_table_mb": 8.5})", "stream_min_table_mb"},
                      BadConfig{R"({"stream_min_table_mb": 8.0})", "stream_min_table_mb"},
                      BadConfig{R"({"stream_min_table_mb": true})", "stream_min_table_mb"},
                      BadConfig{R"({"stream_min_table_mb": null})", "stream_min_table_mb"},
                      BadConfig{R"({"stream_min_table_mb": [8]})", "stream_min_table_mb"},
                      // 2^64 - 1: read as long long it would wrap to -1, inside the range ("never stream")
                      BadConfig{R"({"stream_min_table_mb": 18446744073709551615})", "stream_min_table_mb"},
                      BadConfig{R"({"stream_min_tables_mb": 8})", "stream_min_tables_mb"}));

}  // namespace
}  // namespace dbrefresh
