// `dbrefresh snapshot` and `dbrefresh inspect` against the real test bed (SPEC sections 2, 3 and 6):
// what the file holds, that it is private and password-free, and that a failed run leaves no file.
#include <chrono>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "snapshot_restore_support.h"

namespace dbrefresh::testing {
namespace {

const std::string kWrongPassword = "Wr0ng-Pa55word-zq7";

TEST(Snapshot, WritesPrivateFileThatInspectDescribes) {
  ScopedDatabase preprod(Cluster::kPreprod, "snap_inspect");
  TempDir dir;
  const std::string out = dir.File("preprod.db");

  auto snapshot = RunDbrefresh({"snapshot", "--target", preprod.url(), "--out", out});
  ASSERT_EQ(snapshot.exit_code, 0) << snapshot.err;
  EXPECT_TRUE(Contains(snapshot.out, out)) << "stdout names the file: " << snapshot.out;
  EXPECT_EQ(FileMode(out), 0600);
  EXPECT_EQ(DirectoryEntries(dir.path()), std::vector<std::string>{"preprod.db"}) << "no partial file left behind";

  auto inspect = RunDbrefresh({"inspect", "--json", out});
  ASSERT_EQ(inspect.exit_code, 0) << inspect.err;
  const auto described = nlohmann::json::parse(inspect.out);
  const auto& facts = Expected()["preprod"];
  std::vector<std::pair<std::string, long long>> tables;
  for (const auto& t : described["tables"]) tables.emplace_back(t["table"], t["rows"]);
  EXPECT_EQ(tables, (std::vector<std::pair<std::string, long long>>{
                        {"users", facts["users"]},
                        {"user_role_assignments", facts["user_role_assignments"]},
                        {"user_qualification_assignments", facts["user_qualification_assignments"]}}));
  const auto& meta = described["meta"];
  EXPECT_EQ(meta["flyway_version"], facts["flyway"]["latest_successful"]);
  EXPECT_EQ(meta["source_host"], "127.0.0.1");
  EXPECT_EQ(meta["source_port"], std::to_string(preprod.port()));
  EXPECT_EQ(meta["source_database"], preprod.name());
  EXPECT_EQ(meta["source_user"], "cas_admin");
  EXPECT_EQ(meta["schema"], "public");
  EXPECT_EQ(meta["format_version"], "2");
  EXPECT_EQ(meta["run_id"].get<std::string>().size(), 32u) << "format 2 names the run that took it";
  // Format 2 holds every successful migration, for the post-check's set comparison.
  auto versions = nlohmann::json::parse(meta["flyway_versions"].get<std::string>());
  ASSERT_TRUE(versions.is_array());
  EXPECT_EQ(versions.back(), facts["flyway"]["latest_successful"]);
  EXPECT_EQ(meta["created_at"].get<std::string>().back(), 'Z') << "creation time is UTC";

  // The saved column metadata includes preprod's newer columns.
  std::vector<std::string> user_columns;
  for (const auto& c : described["tables"][0]["columns"]) user_columns.push_back(c["name"]);
  for (const auto& extra : facts["extra_users_columns"]) {
    EXPECT_NE(std::find(user_columns.begin(), user_columns.end(), extra["column"].get<std::string>()),
              user_columns.end())
        << extra["column"];
  }

  auto text = RunDbrefresh({"inspect", out});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_TRUE(Contains(text.out, "127.0.0.1:" + std::to_string(preprod.port()) + "/" + preprod.name())) << text.out;
  EXPECT_TRUE(Contains(text.out, facts["flyway"]["latest_successful"].get<std::string>())) << text.out;
  EXPECT_TRUE(Contains(text.out, "users: 70 rows")) << text.out;
}

TEST(Snapshot, NeverShowsOrStoresThePassword) {
  ScopedDatabase preprod(Cluster::kPreprod, "snap_secret");
  TempDir dir;
  const std::string& password = TestBed::Get().password();
  const std::string out = dir.File("preprod.db");

  struct Output {
    std::string what;
    std::string text;
  };
  std::vector<Output> outputs;
  auto verbose = RunDbrefresh({"snapshot", "--verbose", "--target", preprod.url(), "--out", out});
  ASSERT_EQ(verbose.exit_code, 0) << verbose.err;
  outputs.push_back({"snapshot --verbose", verbose.all()});
  auto json_log = RunDbrefresh({"snapshot", "--log-format", "json", "--target", preprod.url(), "--out", out, "--force"});
  ASSERT_EQ(json_log.exit_code, 0) << json_log.err;
  outputs.push_back({"snapshot --log-format json", json_log.all()});
  outputs.push_back({"inspect", RunDbrefresh({"inspect", out}).all()});
  outputs.push_back({"inspect --json", RunDbrefresh({"inspect", "--json", out}).all()});
  outputs.push_back({"the snapshot file's bytes", ReadBytes(out)});

  for (const auto& o : outputs) {
    EXPECT_FALSE(Contains(o.text, password)) << o.what << " holds the password";
  }
  EXPECT_GT(outputs.back().text.size(), 10000u) << "the file was read";
}

TEST(Snapshot, TakesTheTargetFromTheEnvironment) {
  ScopedDatabase preprod(Cluster::kPreprod, "snap_env");
  TempDir dir;
  const std::string& password = TestBed::Get().password();
  struct Case {
    std::string name;
    std::map<std::string, std::string> env;
  };
  const std::vector<Case> cases = {
      {"DBREFRESH_TARGET_URL", {{"DBREFRESH_TARGET_URL", preprod.url()}}},
      {"DB_*_PREPROD of the current job",
       {{"DB_HOST_PREPROD", "127.0.0.1"},
        {"DB_PORT_PREPROD", std::to_string(preprod.port())},
        {"DB_NAME_PREPROD", preprod.name()},
        {"DB_USER_PREPROD", "cas_admin"},
        {"DB_PASS_PREPROD", password}}},
      {"libpq's PGPASSWORD with a password-less URL",
       {{"DBREFRESH_TARGET_URL", preprod.conninfo()}, {"PGPASSWORD", password}}},
  };
  int i = 0;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string out = dir.File("env" + std::to_string(++i) + ".db");
    auto result = RunDbrefresh({"snapshot", "--out", out}, c.env);
    EXPECT_EQ(result.exit_code, 0) << result.err;
    EXPECT_TRUE(Exists(out));
    EXPECT_FALSE(Contains(result.all(), password));
  }
}

TEST(Snapshot, WithoutAnyTargetIsAUsageError) {
  TempDir dir;
  auto result = RunDbrefresh({"snapshot", "--out", dir.File("x.db")},
                             {{"DBREFRESH_TARGET_URL", ""}, {"DB_HOST_PREPROD", ""}, {"DB_NAME_PREPROD", ""}});
  EXPECT_EQ(result.exit_code, 2) << result.all();
  EXPECT_EQ(LastLine(result.err).rfind("error:", 0), 0u) << result.err;
  EXPECT_FALSE(Exists(dir.File("x.db")));
}

TEST(Snapshot, MissingPreservedTableIsBlockedAndWritesNoFile) {
  ScopedDatabase preprod(Cluster::kPreprod, "snap_missing");
  TempDir dir;
  const std::string config = ConfigFile(
      dir, PreserveConfig({"users", "user_role_assignments", "user_qualification_assignments", "no_such_table"}));
  const std::string out = dir.File("preprod.db");

  auto result = RunDbrefresh({"snapshot", "--config", config, "--target", preprod.url(), "--out", out});

  EXPECT_EQ(result.exit_code, 4) << result.all();
  EXPECT_EQ(LastLine(result.err).rfind("error:", 0), 0u) << result.err;
  EXPECT_TRUE(Contains(LastLine(result.err), "no_such_table")) << result.err;
  EXPECT_FALSE(Exists(out));
  EXPECT_EQ(DirectoryEntries(dir.path()), std::vector<std::string>{"config.json"}) << "no partial file left behind";
}

TEST(Snapshot, ATableLockedByAMigrationFailsAfterTheLockTimeoutAndWritesNoFile) {
  ScopedDatabase preprod(Cluster::kPreprod, "snap_locked");
  TempDir dir;
  nlohmann::json config = PreserveConfig({"users", "user_role_assignments", "user_qualification_assignments"});
  config["lock_timeout_seconds"] = 1;
  const std::string config_path = ConfigFile(dir, config);
  const std::string out = dir.File("preprod.db");
  pqxx::connection holder(preprod.url());
  pqxx::work migration(holder);
  migration.exec("LOCK TABLE user_role_assignments IN ACCESS EXCLUSIVE MODE");  // as ALTER TABLE would

  const auto start = std::chrono::steady_clock::now();
  auto result = RunDbrefresh({"snapshot", "--config", config_path, "--target", preprod.url(), "--out", out});
  const auto waited = std::chrono::steady_clock::now() - start;

  EXPECT_EQ(result.exit_code, 1) << result.all();
  EXPECT_EQ(LastLine(result.err).rfind("error:", 0), 0u) << result.err;
  EXPECT_TRUE(Contains(LastLine(result.err), "locked")) << result.err;
  EXPECT_LT(waited, std::chrono::seconds(20)) << "gave up after about the lock timeout";
  EXPECT_FALSE(Exists(out));
  EXPECT_EQ(DirectoryEntries(dir.path()), std::vector<std::string>{"config.json"}) << "no partial file left behind";
}

TEST(Snapshot, ConnectionFailuresExitThreeWithoutThePassword) {
  ScopedDatabase preprod(Cluster::kPreprod, "snap_conn");
  TempDir dir;
  struct Case {
    std::string name;
    std::string url;
    std::string secret;  // must not appear in any output
  };
  const std::vector<Case> cases = {
      {"unreachable server", "postgresql://cas_admin:" + TestBed::Get().password() + "@127.0.0.1:1/" + preprod.name(),
       TestBed::Get().password()},
      {"wrong password",
       "postgresql://cas_admin:" + kWrongPassword + "@127.0.0.1:" + std::to_string(preprod.port()) + "/" +
           preprod.name(),
       kWrongPassword},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string out = dir.File("x.db");
    auto result = RunDbrefresh({"snapshot", "--target", c.url, "--out", out});
    EXPECT_EQ(result.exit_code, 3) << result.all();
    EXPECT_EQ(LastLine(result.err).rfind("error:", 0), 0u) << result.err;
    EXPECT_FALSE(Contains(result.all(), c.secret)) << result.all();
    EXPECT_FALSE(Exists(out));
  }
}

TEST(Snapshot, FailedSnapshotLeavesAnEarlierFileUnchanged) {
  ScopedDatabase preprod(Cluster::kPreprod, "snap_keep");
  TempDir dir;
  const std::string out = dir.File("preprod.db");
  ASSERT_EQ(RunDbrefresh({"snapshot", "--target", preprod.url(), "--out", out}).exit_code, 0);
  const std::string before = ReadBytes(out);
  const std::string missing_table_config =
      ConfigFile(dir, PreserveConfig({"users", "no_such_table"}), "missing-table.json");
  struct Case {
    std::string name;
    std::vector<std::string> args;
    int exit_code;
  };
  const std::vector<Case> cases = {
      {"missing preserved table", {"--config", missing_table_config, "--target", preprod.url()}, 4},
      {"unreachable server", {"--target", "postgresql://cas_admin@127.0.0.1:1/" + preprod.name()}, 3},
      {"wrong password",
       {"--target", "postgresql://cas_admin:" + kWrongPassword + "@127.0.0.1:" + std::to_string(preprod.port()) + "/" +
                        preprod.name()},
       3},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    // --force: replacing the earlier file is wanted; the failure must still leave it as it was.
    std::vector<std::string> args = {"snapshot", "--out", out, "--force"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    auto result = RunDbrefresh(args);
    EXPECT_EQ(result.exit_code, c.exit_code) << result.all();
    EXPECT_TRUE(ReadBytes(out) == before) << "the earlier snapshot was changed";
    EXPECT_EQ(RunDbrefresh({"inspect", out}).exit_code, 0);
  }
  EXPECT_EQ(DirectoryEntries(dir.path()), (std::vector<std::string>{"missing-table.json", "preprod.db"}));
}

// Regression test (the failure it pins was found and fixed): SPEC section 2: plain libpq variables work as libpq makes them work, and the snapshot records
// where it came from. With the host given by PGHOST, the file says "local socket" instead.
TEST(Snapshot, KnownIssue_HostFromPgHostRecordedAsLocalSocket) {
  ScopedDatabase preprod(Cluster::kPreprod, "snap_pghost");
  TempDir dir;
  const std::string out = dir.File("preprod.db");
  auto result = RunDbrefresh({"snapshot", "--target", "dbname=" + preprod.name(), "--out", out},
                             {{"PGHOST", "127.0.0.1"},
                              {"PGPORT", std::to_string(preprod.port())},
                              {"PGUSER", "cas_admin"},
                              {"PGPASSWORD", TestBed::Get().password()}});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  auto described = nlohmann::json::parse(RunDbrefresh({"inspect", "--json", out}).out);
  EXPECT_EQ(described["meta"]["source_host"], "127.0.0.1") << "the session ran over TCP to 127.0.0.1";
  EXPECT_EQ(described["meta"]["source_port"], std::to_string(preprod.port()));
}

}  // namespace
}  // namespace dbrefresh::testing
