// Connections: where they come from, and that a password never shows.
#include "connect/connection_spec.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>

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

TEST(SplitPassword, RefusesOtherSecretsThatOnlyACommandLineCouldCarry) {
  try {
    SplitPassword("host=db dbname=app sslpassword=Key-Pass-9");
    FAIL() << "sslpassword would have gone on a command line";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kUsage);
    EXPECT_EQ(std::string(e.what()).find("Key-Pass-9"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("sslpassword"), std::string::npos) << e.what();
  }
}

TEST(SecretConninfoKeywords, IncludesPasswordAndSslPassword) {
  const auto secrets = SecretConninfoKeywords();
  EXPECT_NE(std::find(secrets.begin(), secrets.end(), "password"), secrets.end());
  EXPECT_NE(std::find(secrets.begin(), secrets.end(), "sslpassword"), secrets.end());
}

// URIs libpq reads in the wrong place because of an unencoded '@' or '/' in the user-info, and
// strings whose dbname is itself a connection string: exit 2 naming where it came from, never the value.
struct MisreadCase {
  const char* name;
  std::string conninfo;
  bool refused;
};

class ConnectionChecks : public ::testing::TestWithParam<MisreadCase> {};

TEST_P(ConnectionChecks, RefusesMisreadUrisAndNestedConnectionStrings) {
  const auto& c = GetParam();
  for (const bool as_flag : {true, false}) {
    Environment env;
    std::optional<std::string> flag;
    if (as_flag) {
      flag = c.conninfo;
    } else {
      env["DBREFRESH_SOURCE_URL"] = c.conninfo;
    }
    try {
      auto spec = ResolveConnection(Side::kSource, flag, env);
      EXPECT_FALSE(c.refused) << c.name << ": accepted";
      ASSERT_TRUE(spec.has_value());
    } catch (const Error& e) {
      EXPECT_TRUE(c.refused) << c.name << ": " << e.what();
      EXPECT_EQ(e.code(), ExitCode::kUsage);
      const std::string message = e.what();
      EXPECT_NE(message.find(as_flag ? "--source" : "DBREFRESH_SOURCE_URL"), std::string::npos) << message;
      for (const char* piece : {"S3c", "cr@t", "et/x", "evil"}) {
        EXPECT_EQ(message.find(piece), std::string::npos) << "'" << piece << "' shown: " << message;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Uris, ConnectionChecks,
    ::testing::Values(
        MisreadCase{"encoded", "postgresql://alice:S3c%40r%2Ft@db:5432/app", false},
        MisreadCase{"colon in password", "postgresql://alice:S3c:r:t@db:5432/app", false},
        MisreadCase{"at in password", "postgresql://alice:S3cr@t@db:5432/app", true},
        MisreadCase{"at in user", "postgresql://ali@ce:S3cret@db:5432/app", true},
        MisreadCase{"slash in password", "postgresql://alice:S3cret/x@db:5432/app", true},
        MisreadCase{"slash and at in password", "postgresql://alice:S3cr@t/x@db:5432/app", true},
        MisreadCase{"multi-host", "postgresql://alice:S3cret@db1:5432,db2:5433/app?target_session_attrs=any", false},
        MisreadCase{"query password", "postgresql://db/app?user=alice&password=S3cr%40t", false},
        MisreadCase{"keywords with at in password", "host=db dbname=app user=alice password=S3cr@t", false},
        MisreadCase{"dbname holding a URI", "host=db dbname=postgresql://evil/app user=alice", true},
        MisreadCase{"dbname holding keywords", "host=db dbname='host=evil dbname=app' user=alice", true},
        MisreadCase{"plain", "postgres://alice@db/app", false}),
    [](const auto& info) {
      std::string name = info.param.name;
      for (char& c : name) c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
      return name;
    });

TEST(ResolveConnection, JobVariablesWithAnOddPasswordAreAccepted) {
  Environment env = {{"DB_HOST", "db"}, {"DB_NAME", "app"}, {"DB_USER", "u"}, {"DB_PASS", "p@ss:w/rd'\" %"}};
  auto spec = ResolveConnection(Side::kSource, std::nullopt, env);
  ASSERT_TRUE(spec.has_value());
  EXPECT_EQ(ParseConninfo(spec->conninfo)["password"], "p@ss:w/rd'\" %");
}

}  // namespace
}  // namespace dbrefresh
