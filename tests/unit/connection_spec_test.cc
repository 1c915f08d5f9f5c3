// Connections: where they come from, and that a password never shows.
#include "connect/connection_spec.h"

#include <gtest/gtest.h>

#include "common/error.h"

namespace dbrefresh {
namespace {

TEST(ResolveConnection, FlagWinsOverEnvironment) {
  Environment env = {{"DBREFRESH_SOURCE_URL", "postgresql://env@h/db"}, {"DB_HOST", "x"}};
  auto spec = ResolveConnection(Side::kSource, std::string("host=flag dbname=d"), env);
  ASSERT_TRUE(spec);
  EXPECT_EQ(spec->conninfo, "host=flag dbname=d");
  EXPECT_EQ(spec->origin, "--source");
}

TEST(ResolveConnection, UrlVariableWinsOverJobVariables) {
  Environment env = {{"DBREFRESH_TARGET_URL", "postgresql://u@h/db"}, {"DB_HOST_PREPROD", "x"}};
  EXPECT_EQ(ResolveConnection(Side::kTarget, std::nullopt, env)->origin, "DBREFRESH_TARGET_URL");
}

TEST(ResolveConnection, BuildsSourceAndTargetFromTheCurrentJobsVariables) {
  Environment env = {{"DB_HOST", "prod.rds"}, {"DB_NAME", "app"}, {"DB_USER", "admin"}, {"DB_PASS", "p w'\\x"},
                     {"DB_PORT", "5433"}, {"DB_HOST_PREPROD", "preprod.rds"}, {"DB_NAME_PREPROD", "app_pre"},
                     {"DB_USER_PREPROD", "admin2"}, {"DB_PASS_PREPROD", "pw2"}};
  auto source = ParseConninfo(ResolveConnection(Side::kSource, std::nullopt, env)->conninfo);
  EXPECT_EQ(source["host"], "prod.rds");
  EXPECT_EQ(source["port"], "5433");
  EXPECT_EQ(source["dbname"], "app");
  EXPECT_EQ(source["password"], "p w'\\x");  // quoted so libpq reads it back exactly
  auto target = ParseConninfo(ResolveConnection(Side::kTarget, std::nullopt, env)->conninfo);
  EXPECT_EQ(target["host"], "preprod.rds");
  EXPECT_EQ(target["user"], "admin2");
}

TEST(ResolveConnection, MissingConnectionIsAUsageError) {
  try {
    RequireConnection(Side::kTarget, std::nullopt, {});
    FAIL() << "expected a usage error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kUsage);
    EXPECT_NE(std::string(e.what()).find("--target"), std::string::npos);
  }
}

struct MaskCase {
  std::string conninfo;
  std::string password;
};

class MaskedConnectionCases : public ::testing::TestWithParam<MaskCase> {};

TEST_P(MaskedConnectionCases, NeverShowsThePassword) {
  std::string masked = MaskedConnection(GetParam().conninfo);
  EXPECT_EQ(masked.find(GetParam().password), std::string::npos) << masked;
  EXPECT_NE(masked.find("password=****"), std::string::npos) << masked;
}

INSTANTIATE_TEST_SUITE_P(
    UrisAndKeywords, MaskedConnectionCases,
    ::testing::Values(MaskCase{"postgresql://alice:S3cret-pw@db.example:5432/app", "S3cret-pw"},
                      MaskCase{"postgresql://alice:p%40ss%3Aword@db/app?sslmode=require", "p@ss:word"},
                      MaskCase{"host=db dbname=app user=alice password='it\\'s secret'", "it's secret"},
                      MaskCase{"postgresql://db/app?password=Qu3ry-pw", "Qu3ry-pw"}));

TEST(MaskedConnection, UnparseableInputIsNotEchoed) {
  std::string masked = MaskedConnection("host=db password='unterminated-S3cret");
  EXPECT_EQ(masked.find("S3cret"), std::string::npos);
}

TEST(SplitPassword, MovesThePasswordOutOfTheConninfo) {
  auto split = SplitPassword("postgresql://alice:S3cret@db:5433/app");
  EXPECT_EQ(split.password.value_or(""), "S3cret");
  EXPECT_EQ(split.without_password.find("S3cret"), std::string::npos);
  EXPECT_EQ(ParseConninfo(split.without_password)["port"], "5433");
}

}  // namespace
}  // namespace dbrefresh
