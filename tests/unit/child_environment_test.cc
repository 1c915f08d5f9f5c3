// What child programs receive: no connection secret they do not need (issue 14, item 6).
#include <cstdlib>
#include <map>
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "common/error.h"
#include "process/pg_tools.h"
#include "process/process_runner.h"

namespace dbrefresh {
namespace {

// Sets environment variables for one test and puts the old values back.
class ScopedEnv {
 public:
  explicit ScopedEnv(const std::map<std::string, std::string>& vars) {
    for (const auto& [key, value] : vars) {
      const char* old = std::getenv(key.c_str());
      old_[key] = old ? std::optional<std::string>(old) : std::nullopt;
      ::setenv(key.c_str(), value.c_str(), 1);
    }
  }
  ~ScopedEnv() {
    for (const auto& [key, value] : old_) {
      if (value) {
        ::setenv(key.c_str(), value->c_str(), 1);
      } else {
        ::unsetenv(key.c_str());
      }
    }
  }

 private:
  std::map<std::string, std::optional<std::string>> old_;
};

const std::map<std::string, std::string> kSecrets = {
    {"DB_PASS", "Prod-Pass-1"},
    {"DB_PASS_PREPROD", "Preprod-Pass-2"},
    {"DBREFRESH_SOURCE_URL", "postgresql://u:Prod-Url-3@prod/app"},
    {"DBREFRESH_TARGET_URL", "postgresql://u:Preprod-Url-4@preprod/app"},
    {"PGPASSWORD", "Env-Pass-5"},
    {"DB_HOST", "prod"},
    {"KUBECONFIG", "/etc/kube/config"},
};

std::string EnvironmentOf(ProcessSpec spec) {
  spec.argv = {"/bin/sh", "-c", "env"};
  spec.capture_stdout = true;
  spec.quiet = true;
  PosixProcessRunner runner;
  ProcessResult result = runner.Run(spec);
  EXPECT_TRUE(result.ok()) << result.StderrTail();
  return result.stdout_text;
}

TEST(ChildEnvironment, ThePostRestoreCommandGetsNoConnectionSecret) {
  ScopedEnv env(kSecrets);
  const std::string seen = EnvironmentOf(ProcessSpec{});  // as post_check.cc runs the command
  for (const char* secret : {"Prod-Pass-1", "Preprod-Pass-2", "Prod-Url-3", "Preprod-Url-4", "Env-Pass-5"}) {
    EXPECT_EQ(seen.find(secret), std::string::npos) << secret << " reached the post-restore command";
  }
  for (const char* name : {"DB_PASS=", "DBREFRESH_SOURCE_URL=", "PGPASSWORD="}) {
    EXPECT_EQ(seen.find(std::string("\n") + name), std::string::npos) << name;
  }
  // What it may need keeps coming through.
  EXPECT_NE(seen.find("KUBECONFIG=/etc/kube/config"), std::string::npos);
  EXPECT_NE(seen.find("DB_HOST=prod"), std::string::npos);
  EXPECT_NE(seen.find("PATH="), std::string::npos);
}

TEST(ChildEnvironment, PgDumpAndPgRestoreGetTheirOwnSidesPasswordOnly) {
  ScopedEnv env(kSecrets);
  const PgTools tools{""};
  const std::string dump = EnvironmentOf(PgCommand(tools, "pg_dump", {"postgresql://u:Source-Pw-6@prod/app", "--source"}, {}));
  EXPECT_NE(dump.find("PGPASSWORD=Source-Pw-6"), std::string::npos);
  const std::string restore =
      EnvironmentOf(PgCommand(tools, "pg_restore", {"host=preprod dbname=app password=Target-Pw-7", "--target"}, {}));
  EXPECT_NE(restore.find("PGPASSWORD=Target-Pw-7"), std::string::npos);
  EXPECT_EQ(restore.find("Source-Pw-6"), std::string::npos);
  for (const std::string& seen : {dump, restore}) {
    for (const char* secret : {"Prod-Pass-1", "Preprod-Pass-2", "Prod-Url-3", "Preprod-Url-4", "Env-Pass-5"}) {
      EXPECT_EQ(seen.find(secret), std::string::npos) << secret;
    }
  }
  // A side whose conninfo holds no password: libpq would have used our PGPASSWORD, so that one goes.
  const std::string plain = EnvironmentOf(PgCommand(tools, "pg_dump", {"host=prod dbname=app", "--source"}, {}));
  EXPECT_NE(plain.find("PGPASSWORD=Env-Pass-5"), std::string::npos);
}

TEST(ChildEnvironment, NoSecretOptionGoesOnAChildsCommandLine) {
  const PgTools tools{""};
  auto spec = PgCommand(tools, "pg_dump", {"postgresql://u:Source-Pw-6@prod/app?sslmode=require", "--source"}, {"--jobs=2"});
  for (const auto& arg : spec.argv) EXPECT_EQ(arg.find("Source-Pw-6"), std::string::npos) << arg;
  EXPECT_THROW(PgCommand(tools, "pg_dump", {"host=prod dbname=app sslpassword=Key-Pw-8", "--source"}, {}), Error);
}

}  // namespace
}  // namespace dbrefresh
