// `dbrefresh seed-sql` against the real test bed (SPEC section 2): the script, run with
// `psql -v ON_ERROR_STOP=1 -f` (twice), recreates the snapshot's people as restore-users would.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "snapshot_restore_support.h"

namespace dbrefresh::testing {
namespace {

// One snapshot of a preprod copy shared by the suite.
class SeedSql : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    ScopedDatabase preprod(Cluster::kPreprod, "seed_preprod");
    auto result = RunDbrefresh({"snapshot", "--target", preprod.url(), "--out", Snapshot()});
    ASSERT_EQ(result.exit_code, 0) << result.all();
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static std::string Snapshot() { return dir_->File("preprod.db"); }

  // seed-sql adapted to `target`, written into `dir`; returns the script's path.
  static std::string WriteScript(const ScopedDatabase& target, const TempDir& dir) {
    const std::string script = dir.File("seed.sql");
    auto result = RunDbrefresh({"seed-sql", Snapshot(), "--target", target.url(), "--out", script});
    EXPECT_EQ(result.exit_code, 0) << result.all();
    EXPECT_FALSE(Contains(result.all(), TestBed::Get().password()));
    return script;
  }

 private:
  static TempDir* dir_;
};
TempDir* SeedSql::dir_ = nullptr;

TEST_F(SeedSql, ScriptAdaptedToProdLoadsEveryPreprodPerson) {
  ScopedDatabase prod(Cluster::kProd, "seed_load");
  TempDir dir;
  const std::string script = WriteScript(prod, dir);
  EXPECT_EQ(FileMode(script), 0600);
  EXPECT_EQ(DirectoryEntries(dir.path()), std::vector<std::string>{"seed.sql"}) << "no partial file left behind";
  EXPECT_FALSE(Contains(ReadBytes(script), TestBed::Get().password()));

  auto run = PsqlFile(prod, script);

  ASSERT_EQ(run.exit_code, 0) << run.all();
  const auto& after = Expected()["after_correct_refresh"];
  EXPECT_EQ(CountUserTables(prod.url()), AfterCorrectRefresh());
  EXPECT_EQ(DuplicateRolePairs(prod.url()), 0);
  EXPECT_EQ(UsersWithRole(prod.url(), Expected()["collision_only_role"]),
            after["users_with_role_CAS1_APPEALS_MANAGER"]);
  for (const auto& c : Expected()["collisions"]) {
    SCOPED_TRACE(c["delius_username"].get<std::string>());
    EXPECT_EQ(Count(prod.url(), "SELECT count(*) FROM user_role_assignments WHERE user_id = '" +
                                    c["prod_id"].get<std::string>() + "' AND role = '" +
                                    Expected()["collision_only_role"].get<std::string>() + "'"),
              1)
        << "the namesake's roles are on prod's row";
    EXPECT_EQ(Count(prod.url(), "SELECT count(*) FROM users WHERE id = '" + c["preprod_id"].get<std::string>() + "'"),
              0);
  }
}

TEST_F(SeedSql, SecondRunOfTheScriptChangesNothing) {
  ScopedDatabase prod(Cluster::kProd, "seed_twice");
  TempDir dir;
  const std::string script = WriteScript(prod, dir);
  ASSERT_EQ(PsqlFile(prod, script).exit_code, 0);
  const std::string after_first = UserTablesDigest(prod.url());

  auto second = PsqlFile(prod, script);

  ASSERT_EQ(second.exit_code, 0) << second.all();
  EXPECT_EQ(UserTablesDigest(prod.url()), after_first);
  EXPECT_EQ(CountUserTables(prod.url()), AfterCorrectRefresh());
}

TEST_F(SeedSql, ScriptAndRestoreUsersLeaveTheSameRows) {
  ScopedDatabase seeded(Cluster::kProd, "seed_same_a");
  ScopedDatabase restored(Cluster::kProd, "seed_same_b");
  TempDir dir;
  ASSERT_EQ(PsqlFile(seeded, WriteScript(seeded, dir)).exit_code, 0);
  auto restore = RunDbrefresh({"restore-users", Snapshot(), "--target", restored.url()});
  ASSERT_EQ(restore.exit_code, 0) << restore.all();

  for (const std::string table : {"users", "user_role_assignments", "user_qualification_assignments"}) {
    EXPECT_EQ(TableDigest(seeded.url(), table), TableDigest(restored.url(), table)) << table;
  }
}

TEST_F(SeedSql, WritesTheScriptToStdoutWithoutOut) {
  auto result = RunDbrefresh({"seed-sql", Snapshot()});

  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out.rfind("-- ", 0), 0u);
  EXPECT_TRUE(Contains(result.out, "\nBEGIN;\n"));
  EXPECT_EQ(LastLine(result.out), "COMMIT;");
  EXPECT_TRUE(Contains(result.out, "ON CONFLICT DO NOTHING"));
  // Without --target the script keeps the snapshot's own columns, preprod's newer ones included.
  EXPECT_TRUE(Contains(result.out, "\"employment_grade\""));
}

TEST_F(SeedSql, TargetWithoutASnapshotTableIsBlocked) {
  ScopedDatabase prod(Cluster::kProd, "seed_notable");
  TempDir dir;
  Query(prod.url(), "DROP TABLE user_qualification_assignments");
  const std::string script = dir.File("seed.sql");

  auto result = RunDbrefresh({"seed-sql", Snapshot(), "--target", prod.url(), "--out", script});

  EXPECT_EQ(result.exit_code, 4) << result.all();
  EXPECT_EQ(LastLine(result.err).rfind("error:", 0), 0u) << result.err;
  EXPECT_TRUE(Contains(LastLine(result.err), "user_qualification_assignments")) << result.err;
  EXPECT_TRUE(DirectoryEntries(dir.path()).empty()) << "no script written";
}

// Regression test (the failure it pins was found and fixed): restore-users moves identity sequences past the rows it writes (SPEC section 4); the seed SQL
// writes the same rows with OVERRIDING SYSTEM VALUE but never calls setval, so after running it
// the next plain INSERT takes id 1 again and fails with a duplicate key.
TEST(SeedSqlIdentity, KnownIssue_SequenceNotMovedPastSeededRows) {
  ScopedDatabase source(Cluster::kPreprod, "seedid_src", ScopedDatabase::Content::kEmpty);
  ScopedDatabase target(Cluster::kProd, "seedid_dst", ScopedDatabase::Content::kEmpty);
  TempDir dir;
  const std::string ddl = "CREATE TABLE tickets (id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY, label text)";
  Query(source.url(), ddl + "; INSERT INTO tickets (label) VALUES ('a'), ('b'), ('c')");
  Query(target.url(), ddl);
  const std::string config = ConfigFile(dir, PreserveConfig({"tickets"}));
  ASSERT_EQ(
      RunDbrefresh({"snapshot", "--config", config, "--target", source.url(), "--out", dir.File("t.db")}).exit_code, 0);
  ASSERT_EQ(RunDbrefresh({"seed-sql", dir.File("t.db"), "--config", config, "--target", target.url(), "--out",
                          dir.File("t.sql")})
                .exit_code,
            0);
  auto run = PsqlFile(target, dir.File("t.sql"));
  ASSERT_EQ(run.exit_code, 0) << run.all();
  ASSERT_EQ(Count(target.url(), "SELECT count(*) FROM tickets"), 3);

  std::string next;
  try {
    next = Scalar(target.url(), "INSERT INTO tickets (label) VALUES ('next') RETURNING id");
  } catch (const std::exception& e) {
    next = e.what();
  }
  EXPECT_EQ(next, "4");
}

}  // namespace
}  // namespace dbrefresh::testing
