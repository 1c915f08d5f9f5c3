// `dbrefresh restore-users` against the real test bed (SPEC sections 2, 4 and 6): preprod's people
// survive a restore of prod, conflicts follow --on-conflict, bad snapshots write nothing, rows that
// cannot go in become seed SQL, and the adaptive column mapping rules hold on real tables.
#include <gtest/gtest.h>

#include <filesystem>
#include <future>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "snapshot/snapshot_file.h"
#include "snapshot/sqlite_db.h"
#include "snapshot_restore_support.h"

namespace dbrefresh::testing {
namespace {

// One snapshot of a preprod copy shared by the suite; each test restores it into its own prod copy
// (the stand-in for "prod restored over preprod").
class RestoreUsers : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    preprod_ = new ScopedDatabase(Cluster::kPreprod, "ru_preprod");
    auto result = RunDbrefresh({"snapshot", "--target", preprod_->url(), "--out", Snapshot()});
    ASSERT_EQ(result.exit_code, 0) << result.all();
  }
  static void TearDownTestSuite() {
    delete preprod_;
    delete dir_;
    preprod_ = nullptr;
    dir_ = nullptr;
  }

  static std::string Snapshot() { return dir_->File("preprod.db"); }
  static const ScopedDatabase& Preprod() { return *preprod_; }

  static CommandResult Restore(const ScopedDatabase& target, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"restore-users", Snapshot(), "--target", target.url()};
    args.insert(args.end(), extra.begin(), extra.end());
    return RunDbrefresh(args);
  }

  // delius_username -> the given columns' text (NULL as "<null>"), for comparing people across databases.
  static std::map<std::string, std::string> ByUsername(const std::string& url, const std::string& columns) {
    std::map<std::string, std::string> out;
    for (const auto& r :
         Query(url, "SET TimeZone = 'UTC'; SELECT delius_username, concat_ws('|', " + columns + ") FROM users")) {
      out[r[0].as<std::string>()] = r[1].is_null() ? "<null>" : r[1].as<std::string>();
    }
    return out;
  }

 private:
  static TempDir* dir_;
  static ScopedDatabase* preprod_;
};
TempDir* RestoreUsers::dir_ = nullptr;
ScopedDatabase* RestoreUsers::preprod_ = nullptr;

// The columns prod and preprod share, other than the id: what "the person's values" means here.
const std::string kSharedUserColumns =
    "coalesce(name, '<null>'), coalesce(email, '<null>'), coalesce(telephone_number, '<null>'), "
    "probation_region_id::text, delius_staff_code, is_active::text, coalesce(ap_area_id::text, '<null>'), "
    "coalesce(team_codes, '<null>'), coalesce(created_at::text, '<null>'), coalesce(updated_at::text, '<null>'), "
    "coalesce(probation_delivery_unit_id::text, '<null>')";

void ExpectEveryPreprodPersonKept(const std::string& url) {
  const auto& after = Expected()["after_correct_refresh"];
  EXPECT_EQ(CountUserTables(url), AfterCorrectRefresh());
  EXPECT_EQ(DuplicateRolePairs(url), after["duplicate_user_role_pairs"].get<long long>());
  EXPECT_EQ(UsersWithRole(url, Expected()["collision_only_role"]), after["users_with_role_CAS1_APPEALS_MANAGER"]);
  EXPECT_EQ(UsersWithRole(url, Expected()["shared_id_only_role"]), after["users_with_role_CAS1_JANITOR"]);
  for (const auto& c : Expected()["collisions"]) {
    const std::string prod_id = c["prod_id"], preprod_id = c["preprod_id"];
    SCOPED_TRACE(c["delius_username"].get<std::string>());
    EXPECT_EQ(Count(url, "SELECT count(*) FROM users WHERE id = '" + prod_id + "'"), 1);
    EXPECT_EQ(Count(url, "SELECT count(*) FROM users WHERE id = '" + preprod_id + "'"), 0);
    EXPECT_EQ(Count(url, "SELECT count(*) FROM user_role_assignments WHERE user_id = '" + prod_id + "' AND role = '" +
                             Expected()["collision_only_role"].get<std::string>() + "'"),
              1);
  }
}

TEST_F(RestoreUsers, KeepsEveryPreprodPersonWhenProdIsRestoredOverPreprod) {
  ScopedDatabase prod(Cluster::kProd, "ru_main");

  auto result = Restore(prod);

  ASSERT_EQ(result.exit_code, 0) << result.all();
  ExpectEveryPreprodPersonKept(prod.url());
  // inserted, updated, matched, present, to seed
  EXPECT_EQ(SummaryRow(result.out, "users"), (std::vector<long long>{40, 0, 10, 20, 0})) << result.out;
  EXPECT_EQ(SummaryRow(result.out, "user_role_assignments"), (std::vector<long long>{100, 0, 0, 49, 0})) << result.out;
  EXPECT_EQ(SummaryRow(result.out, "user_qualification_assignments"), (std::vector<long long>{70, 0, 0, 30, 0}))
      << result.out;
  // prod lacks preprod's newer columns: a warning names them, and the run still succeeds.
  for (const auto& extra : Expected()["preprod"]["extra_users_columns"]) {
    EXPECT_TRUE(Contains(result.err, "warning:") && Contains(result.err, extra["column"].get<std::string>()))
        << result.err;
  }
  EXPECT_FALSE(Contains(result.all(), TestBed::Get().password()));
}

TEST_F(RestoreUsers, SecondRunChangesNothing) {
  ScopedDatabase prod(Cluster::kProd, "ru_twice");
  ASSERT_EQ(Restore(prod).exit_code, 0);
  const std::string after_first = UserTablesDigest(prod.url());

  auto second = Restore(prod, {"--json"});

  ASSERT_EQ(second.exit_code, 0) << second.all();
  EXPECT_EQ(UserTablesDigest(prod.url()), after_first);
  EXPECT_EQ(CountUserTables(prod.url()), AfterCorrectRefresh());
  for (const std::string table : {"users", "user_role_assignments", "user_qualification_assignments"}) {
    SCOPED_TRACE(table);
    const auto outcome = OutcomeOf(second.out, table);
    EXPECT_EQ(outcome["inserted"], 0) << second.out;
    EXPECT_EQ(outcome["updated"], 0) << second.out;
    EXPECT_EQ(outcome["to_seed_sql"], 0) << second.out;
  }
}

TEST_F(RestoreUsers, OnConflictSkipLeavesProdRowsAsTheyWere) {
  ScopedDatabase prod(Cluster::kProd, "ru_skip");
  Query(prod.url(),
        "CREATE TABLE users_before AS SELECT * FROM users;"
        "CREATE TABLE roles_before AS SELECT * FROM user_role_assignments");
  // Precondition: some people prod shares with preprod differ there (renamed, namesakes).
  const auto prod_values = ByUsername(prod.url(), kSharedUserColumns);
  const auto preprod_values = ByUsername(Preprod().url(), kSharedUserColumns);
  int differing = 0;
  for (const auto& [username, values] : preprod_values) {
    auto it = prod_values.find(username);
    if (it != prod_values.end() && it->second != values) ++differing;
  }
  ASSERT_GT(differing, 10);

  auto result = Restore(prod, {"--on-conflict", "skip"});

  ASSERT_EQ(result.exit_code, 0) << result.all();
  EXPECT_EQ(Count(prod.url(), "SELECT count(*) FROM (SELECT * FROM users_before EXCEPT SELECT * FROM users) x"), 0)
      << "every prod user row is unchanged";
  EXPECT_EQ(Count(prod.url(),
                  "SELECT count(*) FROM (SELECT * FROM roles_before EXCEPT SELECT * FROM user_role_assignments) x"),
            0);
  EXPECT_EQ(CountUserTables(prod.url()), AfterCorrectRefresh());
}

TEST_F(RestoreUsers, OnConflictUpdateWritesSnapshotValuesAndKeepsExistingIds) {
  ScopedDatabase prod(Cluster::kProd, "ru_update");

  auto result = Restore(prod, {"--on-conflict", "update", "--json"});

  ASSERT_EQ(result.exit_code, 0) << result.all();
  // Every preprod person (same id, same username under another id, or new) has preprod's values.
  const auto preprod_values = ByUsername(Preprod().url(), kSharedUserColumns);
  const auto target_values = ByUsername(prod.url(), kSharedUserColumns);
  ASSERT_EQ(preprod_values.size(), 70u);
  for (const auto& [username, values] : preprod_values) {
    auto it = target_values.find(username);
    ASSERT_NE(it, target_values.end()) << username;
    EXPECT_EQ(it->second, values) << username;
  }
  for (const auto& c : Expected()["collisions"]) {
    EXPECT_EQ(Scalar(prod.url(), "SELECT id::text FROM users WHERE delius_username = '" +
                                     c["delius_username"].get<std::string>() + "'"),
              c["prod_id"].get<std::string>())
        << "the matched row keeps prod's id";
  }
  EXPECT_GT(OutcomeOf(result.out, "users")["updated"].get<long long>(), 10) << result.out;
  ExpectEveryPreprodPersonKept(prod.url());
}

TEST_F(RestoreUsers, OnConflictFailIsBlockedAndWritesNothing) {
  ScopedDatabase prod(Cluster::kProd, "ru_fail");
  const std::string before = UserTablesDigest(prod.url());

  auto result = Restore(prod, {"--on-conflict", "fail"});

  EXPECT_EQ(result.exit_code, 4) << result.all();
  EXPECT_EQ(LastLine(result.err).rfind("error:", 0), 0u) << result.err;
  EXPECT_TRUE(Contains(LastLine(result.err), "users")) << result.err;
  EXPECT_EQ(UserTablesDigest(prod.url()), before);
}

TEST_F(RestoreUsers, DryRunPrintsCountsAndChangesNothing) {
  ScopedDatabase prod(Cluster::kProd, "ru_dry");
  const std::string before = UserTablesDigest(prod.url());

  auto text = Restore(prod, {"--dry-run"});
  auto json = Restore(prod, {"--dry-run", "--json"});

  ASSERT_EQ(text.exit_code, 0) << text.all();
  EXPECT_TRUE(Contains(text.out, "dry run")) << text.out;
  EXPECT_EQ(SummaryRow(text.out, "users"), (std::vector<long long>{40, 0, 10, 20, 0})) << text.out;
  EXPECT_EQ(SummaryRow(text.out, "user_role_assignments"), (std::vector<long long>{100, 0, 0, 49, 0})) << text.out;
  ASSERT_EQ(json.exit_code, 0) << json.all();
  EXPECT_EQ(nlohmann::json::parse(json.out)["dry_run"], true);
  EXPECT_EQ(OutcomeOf(json.out, "user_qualification_assignments")["inserted"], 70);
  EXPECT_EQ(UserTablesDigest(prod.url()), before);
}

// Copies the suite's snapshot to `path`, then edits it with SQLite.
void EditedCopy(const std::string& from, const std::string& path, const std::string& sqlite_sql) {
  WriteText(path, ReadBytes(from));
  SqliteDb db(path, SqliteDb::Mode::kCreate);
  db.Exec(sqlite_sql);
}

TEST_F(RestoreUsers, BadSnapshotsExitSixWithOneErrorLineAndWriteNothing) {
  ScopedDatabase prod(Cluster::kProd, "ru_bad");
  const std::string before = UserTablesDigest(prod.url());
  TempDir dir;
  struct Case {
    std::string name;
    std::string file;
  };
  std::vector<Case> cases;
  cases.push_back({"missing file", dir.File("missing.db")});
  WriteText(dir.File("notes.txt"), "this is a text file, not a snapshot\n");
  cases.push_back({"a text file", dir.File("notes.txt")});
  WriteText(dir.File("empty.db"), "");
  cases.push_back({"an empty file", dir.File("empty.db")});
  {
    SqliteDb foreign(dir.File("foreign.db"), SqliteDb::Mode::kCreate);
    foreign.Exec("CREATE TABLE users (id TEXT, name TEXT); INSERT INTO users VALUES ('1', 'someone')");
  }
  cases.push_back({"a foreign SQLite database", dir.File("foreign.db")});
  EditedCopy(Snapshot(), dir.File("v99.db"), "UPDATE dbrefresh_meta SET value = '99' WHERE key = 'format_version'");
  cases.push_back({"format_version 99", dir.File("v99.db")});
  EditedCopy(
      Snapshot(), dir.File("rows.db"),
      "DELETE FROM rows_user_role_assignments WHERE rowid = (SELECT max(rowid) FROM rows_user_role_assignments)");
  cases.push_back({"a row count that does not match", dir.File("rows.db")});
  const std::string whole = ReadBytes(Snapshot());
  WriteText(dir.File("truncated.db"), whole.substr(0, whole.size() / 2));
  cases.push_back({"a truncated file", dir.File("truncated.db")});
  WriteText(dir.File("truncated-tail.db"), whole.substr(0, whole.size() - 4096));
  cases.push_back({"a file missing its last 4 KiB", dir.File("truncated-tail.db")});
  cases.push_back({"a directory", dir.path()});

  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto restore = RunDbrefresh({"restore-users", c.file, "--target", prod.url()});
    EXPECT_EQ(restore.exit_code, 6) << restore.all();
    EXPECT_EQ(Lines(restore.err).size(), 1u) << restore.err;
    EXPECT_EQ(restore.err.rfind("error:", 0), 0u) << restore.err;
    EXPECT_TRUE(Contains(restore.err, c.file)) << "names the file: " << restore.err;
    EXPECT_EQ(UserTablesDigest(prod.url()), before);
    // The other commands that read snapshots refuse them the same way.
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"inspect", c.file}, std::vector<std::string>{"seed-sql", c.file}}) {
      auto other = RunDbrefresh(args);
      EXPECT_EQ(other.exit_code, 6) << args[0] << ": " << other.all();
      EXPECT_EQ(other.err.rfind("error:", 0), 0u) << args[0] << ": " << other.err;
      EXPECT_TRUE(other.out.empty()) << args[0] << " printed: " << other.out.substr(0, 200);
    }
  }
}

// Regression test (the failure it pins was found and fixed): SPEC section 3: a truncated file gets a clear error, never a restore. PRAGMA quick_check does
// not compare indexes with their tables, so a file missing its last byte (the tail of an index page)
// passes SnapshotReader's checks; PRAGMA integrity_check reports "row .. missing from index".
// The page count in the SQLite header (offset 28) against the file size would catch it cheaply.
TEST_F(RestoreUsers, KnownIssue_SnapshotMissingItsLastByteIsAccepted) {
  ScopedDatabase prod(Cluster::kProd, "ru_cut");
  TempDir dir;
  const std::string whole = ReadBytes(Snapshot());
  const std::string cut = dir.File("cut.db");
  WriteText(cut, whole.substr(0, whole.size() - 1));
  const std::string before = UserTablesDigest(prod.url());

  auto restore = RunDbrefresh({"restore-users", cut, "--target", prod.url()});

  EXPECT_EQ(restore.exit_code, 6) << restore.all();
  EXPECT_EQ(UserTablesDigest(prod.url()), before);
  EXPECT_EQ(RunDbrefresh({"inspect", cut}).exit_code, 6);
}

TEST_F(RestoreUsers, TargetWithoutASnapshotTableIsBlocked) {
  ScopedDatabase prod(Cluster::kProd, "ru_notable");
  Query(prod.url(), "DROP TABLE user_qualification_assignments");
  const std::string users_before = TableDigest(prod.url(), "users");
  const std::string roles_before = TableDigest(prod.url(), "user_role_assignments");

  auto result = Restore(prod);

  EXPECT_EQ(result.exit_code, 4) << result.all();
  EXPECT_EQ(LastLine(result.err).rfind("error:", 0), 0u) << result.err;
  EXPECT_TRUE(Contains(LastLine(result.err), "user_qualification_assignments")) << result.err;
  EXPECT_EQ(TableDigest(prod.url(), "users"), users_before);
  EXPECT_EQ(TableDigest(prod.url(), "user_role_assignments"), roles_before);
}

// SPEC section 1, third failure: after the refresh the operator re-applies preprod's migrations
// and re-runs restore-users --on-conflict update, which fills the re-added columns from the snapshot.
TEST_F(RestoreUsers, ExtraColumnsComeBackAfterMigrationsAreReapplied) {
  ScopedDatabase prod(Cluster::kProd, "ru_migrate");
  auto first = Restore(prod);
  ASSERT_EQ(first.exit_code, 0) << first.all();
  EXPECT_TRUE(Contains(first.err, "cas1_cru_management_area_id") && Contains(first.err, "employment_grade"))
      << first.err;

  auto migrate = RunProgram(
      {std::string(DBREFRESH_SOURCE_DIR) + "/scripts/load-testdata.sh", "--migrate", "preprod", prod.conninfo()},
      PasswordEnv());
  ASSERT_EQ(migrate.exit_code, 0) << migrate.all();
  ASSERT_EQ(Count(prod.url(),
                  "SELECT count(*) FROM information_schema.columns WHERE table_name = 'users' AND "
                  "column_name IN ('employment_grade', 'cas1_cru_management_area_id')"),
            2);

  auto second = Restore(prod, {"--on-conflict", "update", "--json"});

  ASSERT_EQ(second.exit_code, 0) << second.all();
  EXPECT_TRUE(OutcomeOf(second.out, "users")["columns_dropped"].empty()) << second.out;
  const std::string extra = "employment_grade, coalesce(cas1_cru_management_area_id::text, '<null>')";
  const auto preprod_values = ByUsername(Preprod().url(), extra);
  const auto target_values = ByUsername(prod.url(), extra);
  ASSERT_EQ(preprod_values.size(), 70u);
  for (const auto& [username, values] : preprod_values) {
    auto it = target_values.find(username);
    ASSERT_NE(it, target_values.end()) << username;
    EXPECT_EQ(it->second, values) << username;
  }
  EXPECT_EQ(CountUserTables(prod.url()), AfterCorrectRefresh());
  EXPECT_EQ(DuplicateRolePairs(prod.url()), 0);
}

TEST_F(RestoreUsers, ConcurrentRunsInsertEachPersonOnce) {
  ScopedDatabase prod(Cluster::kProd, "ru_concurrent");
  std::vector<std::future<CommandResult>> runs;
  for (int i = 0; i < 3; ++i) {
    runs.push_back(std::async(std::launch::async, [&] { return Restore(prod, {"--json"}); }));
  }
  long long users_inserted = 0;
  for (auto& run : runs) {
    auto result = run.get();
    EXPECT_EQ(result.exit_code, 0) << result.all();
    users_inserted += OutcomeOf(result.out, "users")["inserted"].get<long long>();
  }
  EXPECT_EQ(users_inserted, 40);
  EXPECT_EQ(CountUserTables(prod.url()), AfterCorrectRefresh());
  EXPECT_EQ(DuplicateRolePairs(prod.url()), 0);
}

// A preprod user whose region prod does not have: that user and its rows go to the seed SQL with
// the reason, everyone else goes in; once the region exists, the seed file puts them in.
TEST_F(RestoreUsers, RowsWithAMissingReferenceGoToSeedSqlAndLoadLater) {
  ScopedDatabase preprod(Cluster::kPreprod, "ru_fk_src");
  ScopedDatabase prod(Cluster::kProd, "ru_fk_dst");
  TempDir dir;
  const std::string region = "00000000-0000-4000-8000-00000000a71a";
  const std::string user = "00000000-0000-4000-8000-0000000005e1";
  const std::string region_sql = "INSERT INTO probation_regions (id, name) VALUES ('" + region + "', 'Atlantis')";
  Query(preprod.url(),
        region_sql + ";" +
            "INSERT INTO users (id, name, delius_username, probation_region_id, delius_staff_code, "
            "employment_grade) VALUES ('" +
            user + "', 'Ann O''Region', 'ATLANTIS_USER', '" + region +
            "', 'ATL001', 'PO');"
            "INSERT INTO user_role_assignments VALUES ('00000000-0000-4000-8000-0000000005e2', '" +
            user + "', 'CAS1_ASSESSOR'), ('00000000-0000-4000-8000-0000000005e3', '" + user +
            "', 'CAS3_REFERRER');"
            "INSERT INTO user_qualification_assignments VALUES ('00000000-0000-4000-8000-0000000005e4', '" +
            user + "', 'PIPE')");
  const std::string snapshot = dir.File("atlantis.db");
  const std::string seed = dir.File("atlantis.seed.sql");
  ASSERT_EQ(RunDbrefresh({"snapshot", "--target", preprod.url(), "--out", snapshot}).exit_code, 0);
  const std::string before = UserTablesDigest(prod.url());

  auto dry = RunDbrefresh({"restore-users", snapshot, "--target", prod.url(), "--dry-run"});
  EXPECT_EQ(dry.exit_code, 5) << dry.all();
  EXPECT_FALSE(Exists(seed)) << "a dry run writes no seed file";
  EXPECT_EQ(UserTablesDigest(prod.url()), before);

  auto result = RunDbrefresh({"restore-users", snapshot, "--target", prod.url(), "--json"});

  ASSERT_EQ(result.exit_code, 5) << result.all();
  EXPECT_EQ(nlohmann::json::parse(result.out)["rows_to_seed"], 4) << result.out;
  EXPECT_EQ(OutcomeOf(result.out, "users")["to_seed_sql"], 1);
  EXPECT_EQ(OutcomeOf(result.out, "user_role_assignments")["to_seed_sql"], 2);
  EXPECT_EQ(OutcomeOf(result.out, "user_qualification_assignments")["to_seed_sql"], 1);
  EXPECT_EQ(CountUserTables(prod.url()), AfterCorrectRefresh()) << "everyone else is in";
  EXPECT_EQ(Count(prod.url(), "SELECT count(*) FROM users WHERE delius_username = 'ATLANTIS_USER'"), 0);
  ASSERT_TRUE(Exists(seed)) << "default seed file beside the snapshot";
  EXPECT_EQ(FileMode(seed), 0600);
  const std::string script = ReadBytes(seed);
  EXPECT_TRUE(Contains(script, "users_probation_region_id_fkey")) << "the reason is in the file";
  EXPECT_TRUE(Contains(script, "ATLANTIS_USER"));
  int inserts = 0;
  for (const auto& line : Lines(script)) inserts += line.rfind("INSERT INTO", 0) == 0;
  EXPECT_EQ(inserts, 4) << script;

  Query(prod.url(), region_sql);
  auto first = PsqlFile(prod, seed);
  ASSERT_EQ(first.exit_code, 0) << first.all();
  EXPECT_EQ(Count(prod.url(), "SELECT count(*) FROM users WHERE id = '" + user + "'"), 1);
  EXPECT_EQ(Count(prod.url(), "SELECT count(*) FROM user_role_assignments WHERE user_id = '" + user + "'"), 2);
  EXPECT_EQ(Count(prod.url(), "SELECT count(*) FROM user_qualification_assignments WHERE user_id = '" + user + "'"), 1);
  const auto counts = AfterCorrectRefresh();
  EXPECT_EQ(CountUserTables(prod.url()),
            (UserTableCounts{counts.users + 1, counts.roles + 2, counts.qualifications + 1}));
  const std::string loaded = UserTablesDigest(prod.url());
  auto again = PsqlFile(prod, seed);
  ASSERT_EQ(again.exit_code, 0) << again.all();
  EXPECT_EQ(UserTablesDigest(prod.url()), loaded) << "a second run of the seed file changes nothing";
}

// ---- the column mapping rules of SPEC section 4, on small tables built for them ----

// Snapshot of `people` (id, name, legacy, badge) shared by the mapping tests; each test builds
// its own target table.
class RestoreUsersMapping : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    source_ = new ScopedDatabase(Cluster::kPreprod, "map_src", ScopedDatabase::Content::kEmpty);
    Query(source_->url(),
          "CREATE TABLE people (id integer PRIMARY KEY, name text NOT NULL, legacy text, badge text);"
          "INSERT INTO people VALUES (1, 'Ann', 'old-1', '12'), (2, 'Bob', 'old-2', 'abc'), (3, 'Cy', NULL, '7')");
    const std::string config = ConfigFile(*dir_, PreserveConfig({"people"}));
    auto result = RunDbrefresh({"snapshot", "--config", config, "--target", source_->url(), "--out", Snapshot()});
    ASSERT_EQ(result.exit_code, 0) << result.all();
  }
  static void TearDownTestSuite() {
    delete source_;
    delete dir_;
    source_ = nullptr;
    dir_ = nullptr;
  }
  static std::string Snapshot() { return dir_->File("people.db"); }

  // restore-users of the people snapshot with a config whose people entry has `defaults`.
  static CommandResult Restore(const ScopedDatabase& target, const TempDir& dir,
                               const std::map<std::string, std::string>& defaults = {}) {
    nlohmann::json config = PreserveConfig({"people"});
    if (!defaults.empty()) config["preserve"][0]["defaults"] = defaults;
    return RunDbrefresh({"restore-users", Snapshot(), "--config", ConfigFile(dir, config), "--target", target.url(),
                         "--seed-out", dir.File("people.seed.sql"), "--json"});
  }

 private:
  static TempDir* dir_;
  static ScopedDatabase* source_;
};
TempDir* RestoreUsersMapping::dir_ = nullptr;
ScopedDatabase* RestoreUsersMapping::source_ = nullptr;

TEST_F(RestoreUsersMapping, FillsTargetOnlyColumnsByTheRules) {
  struct Case {
    std::string column_ddl;                     // the target-only column
    std::map<std::string, std::string> config;  // preserve[].defaults
    std::string holds;                          // true for every restored row
    bool warns;                                 // a warning names the column
  };
  const std::vector<Case> cases = {
      {"grade text NOT NULL", {{"grade", "G7"}}, "grade = 'G7'", false},
      {"score integer NOT NULL", {{"score", "42"}}, "score = 42", false},
      {"code uuid NOT NULL",
       {{"code", "00000000-0000-4000-8000-00000000c0de"}},
       "code = '00000000-0000-4000-8000-00000000c0de'",
       false},
      {"grade text NOT NULL", {}, "grade = ''", true},
      {"grade character varying(10) NOT NULL", {}, "grade = ''", true},
      {"score integer NOT NULL", {}, "score = 0", true},
      {"total numeric(10,2) NOT NULL", {}, "total = 0", true},
      {"active boolean NOT NULL", {}, "active = false", true},
      {"tags text[] NOT NULL", {}, "tags = '{}'", true},
      {"prefs jsonb NOT NULL", {}, "prefs = '{}'::jsonb", true},
      {"since timestamp with time zone NOT NULL", {}, "since = 'epoch'", true},
      {"hired date NOT NULL", {}, "hired = '1970-01-01'", true},
      {"note text", {}, "note IS NULL", false},
      {"region text NOT NULL DEFAULT 'north'", {}, "region = 'north'", false},
      {"serial_no bigint GENERATED BY DEFAULT AS IDENTITY", {}, "serial_no IS NOT NULL", false},
  };
  ScopedDatabase target(Cluster::kProd, "map_fill", ScopedDatabase::Content::kEmpty);
  TempDir dir;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.column_ddl + (c.config.empty() ? "" : " with a config default"));
    const std::string column = c.column_ddl.substr(0, c.column_ddl.find(' '));
    Query(target.url(),
          "DROP TABLE IF EXISTS people; CREATE TABLE people (id integer PRIMARY KEY, name text NOT NULL, "
          "legacy text, badge text, " +
              c.column_ddl + ")");

    auto result = Restore(target, dir, c.config);

    EXPECT_EQ(result.exit_code, 0) << result.all();
    EXPECT_EQ(Count(target.url(), "SELECT count(*) FROM people WHERE " + c.holds), 3);
    if (c.warns) {
      bool named = false;
      for (const auto& line : Lines(result.err)) named |= line.rfind("warning:", 0) == 0 && Contains(line, column);
      EXPECT_TRUE(named) << "a warning names " << column << ": " << result.err;
    }
  }
}

TEST_F(RestoreUsersMapping, UnfillableColumnSendsTheRowsToSeedSql) {
  ScopedDatabase target(Cluster::kProd, "map_unfill", ScopedDatabase::Content::kEmpty);
  TempDir dir;
  Query(
      target.url(),
      "CREATE TABLE people (id integer PRIMARY KEY, name text NOT NULL, legacy text, badge text, code uuid NOT NULL)");

  auto result = Restore(target, dir);

  EXPECT_EQ(result.exit_code, 5) << result.all();
  EXPECT_EQ(OutcomeOf(result.out, "people")["to_seed_sql"], 3) << result.out;
  EXPECT_EQ(Count(target.url(), "SELECT count(*) FROM people"), 0);
  EXPECT_TRUE(Contains(result.err, "warning:") && Contains(result.err, "code")) << result.err;
  const std::string seed = dir.File("people.seed.sql");
  ASSERT_TRUE(Exists(seed));
  const auto lines = Lines(ReadBytes(seed));
  int reasons = 0;
  for (size_t i = 0; i + 1 < lines.size(); ++i) {
    if (lines[i + 1].rfind("INSERT INTO", 0) != 0) continue;
    EXPECT_EQ(lines[i].rfind("-- ", 0), 0u) << "a reason comment above each row: " << lines[i];
    reasons += Contains(lines[i], "code") && Contains(lines[i], "NOT NULL");
  }
  EXPECT_EQ(reasons, 3);
}

// Memory stays flat when many rows go to the seed SQL: a column no value fits sends every row of
// the table there, and they are read back from the snapshot a batch at a time. (Holding them all,
// as restore-users did, took about as much memory as the rows themselves.)
TEST(RestoreUsersSeedSql, ATableWhoseEveryRowGoesToSeedSqlIsWrittenWithFlatMemory) {
  constexpr int kRows = 250000;
  ScopedDatabase source(Cluster::kPreprod, "seed_many_src", ScopedDatabase::Content::kEmpty);
  ScopedDatabase target(Cluster::kProd, "seed_many_dst", ScopedDatabase::Content::kEmpty);
  TempDir dir;
  Query(source.url(), "CREATE TABLE people (id integer PRIMARY KEY, name text NOT NULL);"
                      "INSERT INTO people SELECT g, 'person ' || g || ' ' || repeat(md5(g::text), 3) "
                      "FROM generate_series(1, " + std::to_string(kRows) + ") g");
  Query(target.url(), "CREATE TABLE people (id integer PRIMARY KEY, name text NOT NULL, code uuid NOT NULL)");
  const std::string config = ConfigFile(dir, PreserveConfig({"people"})), snapshot = dir.File("people.db");
  ASSERT_EQ(RunDbrefresh({"snapshot", "--config", config, "--target", source.url(), "--out", snapshot}).exit_code, 0);

  const std::string seed = dir.File("people.seed.sql");
  auto result = RunDbrefresh({"restore-users", snapshot, "--config", config, "--target", target.url(), "--seed-out", seed});

  EXPECT_EQ(result.exit_code, 5) << result.all();
  const std::string text = ReadBytes(seed);
  int inserts = 0;
  for (const auto& line : Lines(text)) inserts += line.rfind("INSERT INTO", 0) == 0;
  EXPECT_EQ(inserts, kRows);
  EXPECT_TRUE(Contains(text, "'person 1 ") && Contains(text, "'person " + std::to_string(kRows) + " "));
  const long snapshot_kb = static_cast<long>(std::filesystem::file_size(snapshot) / 1024);
  RecordProperty("peak_rss_kb", static_cast<int>(result.peak_rss_kb));
  EXPECT_LT(result.peak_rss_kb, 64 * 1024) << "peak RSS " << result.peak_rss_kb / 1024 << " MB for a snapshot of "
                                           << snapshot_kb / 1024 << " MB";
}

TEST_F(RestoreUsersMapping, SnapshotOnlyColumnIsReportedAndKeptInTheSnapshot) {
  ScopedDatabase target(Cluster::kProd, "map_dropped", ScopedDatabase::Content::kEmpty);
  TempDir dir;
  Query(target.url(), "CREATE TABLE people (id integer PRIMARY KEY, name text NOT NULL, badge text)");
  const std::string snapshot_before = ReadBytes(Snapshot());

  auto result = Restore(target, dir);

  ASSERT_EQ(result.exit_code, 0) << result.all();
  EXPECT_EQ(OutcomeOf(result.out, "people")["columns_dropped"], nlohmann::json::array({"legacy"})) << result.out;
  bool warned = false;
  for (const auto& line : Lines(result.err)) warned |= line.rfind("warning:", 0) == 0 && Contains(line, "legacy");
  EXPECT_TRUE(warned) << result.err;
  EXPECT_EQ(Count(target.url(), "SELECT count(*) FROM people"), 3);
  EXPECT_TRUE(ReadBytes(Snapshot()) == snapshot_before) << "restore-users never changes the snapshot";
  SnapshotReader reader(Snapshot());
  std::vector<std::optional<std::string>> legacy;
  const SnapshotTable* people = reader.FindTable("people");
  ASSERT_NE(people, nullptr);
  reader.ForEachRow(*people, [&](const RowValues& row) { legacy.push_back(row[2]); });
  EXPECT_EQ(legacy, (std::vector<std::optional<std::string>>{"old-1", "old-2", std::nullopt}));
}

TEST_F(RestoreUsersMapping, FailedCastSendsOnlyThatRowToSeedSql) {
  ScopedDatabase target(Cluster::kProd, "map_cast", ScopedDatabase::Content::kEmpty);
  TempDir dir;
  Query(target.url(), "CREATE TABLE people (id integer PRIMARY KEY, name text NOT NULL, legacy text, badge integer)");

  auto result = Restore(target, dir);

  EXPECT_EQ(result.exit_code, 5) << result.all();
  EXPECT_EQ(OutcomeOf(result.out, "people")["inserted"], 2) << result.out;
  EXPECT_EQ(OutcomeOf(result.out, "people")["to_seed_sql"], 1) << result.out;
  EXPECT_EQ(Scalar(target.url(), "SELECT string_agg(id || ':' || badge, ',' ORDER BY id) FROM people"), "1:12,3:7");
  const auto lines = Lines(ReadBytes(dir.File("people.seed.sql")));
  int rows = 0;
  for (size_t i = 1; i < lines.size(); ++i) {
    if (lines[i].rfind("INSERT INTO", 0) != 0) continue;
    ++rows;
    EXPECT_TRUE(Contains(lines[i - 1], "invalid input syntax for type integer")) << lines[i - 1];
    EXPECT_TRUE(i + 1 < lines.size() && Contains(lines[i + 1], "'abc'")) << "Bob's row";
  }
  EXPECT_EQ(rows, 1);
}

TEST_F(RestoreUsersMapping, KnownIssue_ValueTooLongForTheTargetIsNotCutShort) {
  // An explicit cast to varchar(2) would quietly keep "An" of "Ann": the row must go to seed SQL whole.
  ScopedDatabase target(Cluster::kProd, "map_long", ScopedDatabase::Content::kEmpty);
  TempDir dir;
  Query(target.url(), "CREATE TABLE people (id integer PRIMARY KEY, name varchar(2) NOT NULL, legacy text, badge text)");

  auto result = Restore(target, dir);

  EXPECT_EQ(result.exit_code, 5) << result.all();
  EXPECT_EQ(OutcomeOf(result.out, "people")["inserted"], 1) << result.out;
  EXPECT_EQ(OutcomeOf(result.out, "people")["to_seed_sql"], 2) << result.out;
  EXPECT_EQ(Scalar(target.url(), "SELECT string_agg(id || ':' || name, ',' ORDER BY id) FROM people"), "3:Cy");
  const std::string script = ReadBytes(dir.File("people.seed.sql"));
  EXPECT_TRUE(Contains(script, "value too long")) << script;
  EXPECT_TRUE(Contains(script, "'Ann'") && Contains(script, "'Bob'")) << script;
}

TEST_F(RestoreUsersMapping, RowsWhoseKeyTheTargetHasAreLeftAsTheyAre) {
  // --on-conflict skip: only the keys go first; the row the target has is never sent whole.
  ScopedDatabase target(Cluster::kProd, "map_present", ScopedDatabase::Content::kEmpty);
  TempDir dir;
  Query(target.url(), "CREATE TABLE people (id integer PRIMARY KEY, name text NOT NULL, legacy text, badge text);"
                      "INSERT INTO people VALUES (2, 'Bob in prod', NULL, 'prod')");

  auto result = Restore(target, dir);

  EXPECT_EQ(result.exit_code, 0) << result.all();
  EXPECT_EQ(OutcomeOf(result.out, "people")["inserted"], 2) << result.out;
  EXPECT_EQ(OutcomeOf(result.out, "people")["already_present"], 1) << result.out;
  EXPECT_EQ(Scalar(target.url(), "SELECT string_agg(id || ':' || name || ':' || coalesce(legacy, '-') || ':' || badge, ',' "
                                 "ORDER BY id) FROM people"),
            "1:Ann:old-1:12,2:Bob in prod:-:prod,3:Cy:-:7");
}

TEST_F(RestoreUsersMapping, AKeyThatNoLongerFitsItsColumnSendsThatRowToSeedSql) {
  // The keys go first by COPY into the target's key type: when one does not fit, every row goes the
  // usual way, which finds the rows to blame.
  ScopedDatabase target(Cluster::kProd, "map_key_type", ScopedDatabase::Content::kEmpty);
  TempDir dir;
  Query(target.url(), "CREATE TYPE person_id AS ENUM ('1', '2');"
                      "CREATE TABLE people (id person_id PRIMARY KEY, name text NOT NULL, legacy text, badge text);"
                      "INSERT INTO people VALUES ('1', 'Ann in prod', NULL, NULL)");

  auto result = Restore(target, dir);

  EXPECT_EQ(result.exit_code, 5) << result.all();
  EXPECT_EQ(OutcomeOf(result.out, "people")["already_present"], 1) << result.out;
  EXPECT_EQ(OutcomeOf(result.out, "people")["inserted"], 1) << result.out;
  EXPECT_EQ(OutcomeOf(result.out, "people")["to_seed_sql"], 1) << result.out;
  EXPECT_EQ(Scalar(target.url(), "SELECT string_agg(id || ':' || name, ',' ORDER BY id) FROM people"), "1:Ann in prod,2:Bob");
  const std::string script = ReadBytes(dir.File("people.seed.sql"));
  EXPECT_TRUE(Contains(script, "'Cy'")) << script;
  EXPECT_TRUE(Contains(script, "invalid input value for enum")) << script;
}

TEST(RestoreUsersIdentity, WritesIdentityValuesAndMovesTheSequencePastThem) {
  ScopedDatabase source(Cluster::kPreprod, "ident_src", ScopedDatabase::Content::kEmpty);
  ScopedDatabase target(Cluster::kProd, "ident_dst", ScopedDatabase::Content::kEmpty);
  TempDir dir;
  const std::string ddl = "CREATE TABLE tickets (id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY, label text)";
  Query(source.url(), ddl +
                          "; INSERT INTO tickets (label) VALUES ('a'), ('b');"
                          "INSERT INTO tickets OVERRIDING SYSTEM VALUE VALUES (100, 'c')");
  Query(target.url(), ddl);
  const std::string config = ConfigFile(dir, PreserveConfig({"tickets"}));
  ASSERT_EQ(
      RunDbrefresh({"snapshot", "--config", config, "--target", source.url(), "--out", dir.File("t.db")}).exit_code, 0);

  auto result = RunDbrefresh({"restore-users", dir.File("t.db"), "--config", config, "--target", target.url()});

  ASSERT_EQ(result.exit_code, 0) << result.all();
  EXPECT_EQ(Scalar(target.url(), "SELECT string_agg(id || label, ',' ORDER BY id) FROM tickets"), "1a,2b,100c");
  EXPECT_EQ(Scalar(target.url(), "INSERT INTO tickets (label) VALUES ('next') RETURNING id"), "101");
}

// Regression test (the failure it pins was found and fixed): An identity (or serial) sequence that was never used still has last_value = its start with
// is_called = false. MoveSequencesPastMax only moves it when max > last_value, so a snapshot whose
// highest id equals the start (one row with id 1) leaves nextval() returning 1 again.
TEST(RestoreUsersIdentity, KnownIssue_UnusedSequenceNotMovedPastARowEqualToItsStart) {
  ScopedDatabase source(Cluster::kPreprod, "ident1_src", ScopedDatabase::Content::kEmpty);
  ScopedDatabase target(Cluster::kProd, "ident1_dst", ScopedDatabase::Content::kEmpty);
  TempDir dir;
  const std::string ddl = "CREATE TABLE tickets (id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY, label text)";
  Query(source.url(), ddl + "; INSERT INTO tickets (label) VALUES ('only')");
  Query(target.url(), ddl);
  const std::string config = ConfigFile(dir, PreserveConfig({"tickets"}));
  ASSERT_EQ(
      RunDbrefresh({"snapshot", "--config", config, "--target", source.url(), "--out", dir.File("t.db")}).exit_code, 0);

  auto result = RunDbrefresh({"restore-users", dir.File("t.db"), "--config", config, "--target", target.url()});

  ASSERT_EQ(result.exit_code, 0) << result.all();
  std::string next;
  try {
    next = Scalar(target.url(), "INSERT INTO tickets (label) VALUES ('next') RETURNING id");
  } catch (const std::exception& e) {
    next = e.what();
  }
  EXPECT_EQ(next, "2");
}

// Regression test (the failure it pins was found and fixed): json (unlike jsonb) has no equality operator. Classify's duplicate check (a table without a
// unique key besides its primary key) and --on-conflict update's IS DISTINCT FROM both compare
// columns with = and fail: "operator does not exist: json = json", exit 1, nothing restored.
TEST(RestoreUsersJson, KnownIssue_JsonColumnBreaksDuplicateCheckAndUpdate) {
  struct Case {
    std::string name;
    std::string table;
    std::string on_conflict;
  };
  const std::vector<Case> cases = {
      {"no unique key: duplicate check", "docs_plain", "skip"},
      {"unique key, --on-conflict update", "docs_keyed", "update"},
  };
  ScopedDatabase source(Cluster::kPreprod, "json_src", ScopedDatabase::Content::kEmpty);
  ScopedDatabase target(Cluster::kProd, "json_dst", ScopedDatabase::Content::kEmpty);
  const std::string ddl =
      "CREATE TABLE docs_plain (id integer PRIMARY KEY, doc json);"
      "CREATE TABLE docs_keyed (id integer PRIMARY KEY, k text UNIQUE, doc json);";
  Query(source.url(), ddl +
                          "INSERT INTO docs_plain VALUES (1, '{\"x\": 1}'), (2, '[]');"
                          "INSERT INTO docs_keyed VALUES (1, 'a', '{\"x\": 1}'), (2, 'b', '[]')");
  Query(target.url(), ddl + "INSERT INTO docs_keyed VALUES (1, 'a', '{}')");
  TempDir dir;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string config = ConfigFile(dir, PreserveConfig({c.table}), c.table + ".json");
    const std::string snapshot = dir.File(c.table + ".db");
    ASSERT_EQ(RunDbrefresh({"snapshot", "--config", config, "--target", source.url(), "--out", snapshot}).exit_code, 0);

    auto result = RunDbrefresh(
        {"restore-users", snapshot, "--config", config, "--target", target.url(), "--on-conflict", c.on_conflict});

    EXPECT_EQ(result.exit_code, 0) << result.all();
    EXPECT_EQ(RowsAsJson(target.url(), c.table, "id"), RowsAsJson(source.url(), c.table, "id"));
  }
}

}  // namespace
}  // namespace dbrefresh::testing
