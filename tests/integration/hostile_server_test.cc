// Hostile servers, snapshots and credentials (issue 14): database and role defaults that print
// values another way, row-level security, locks, triggers and rules that swallow rows, DETAIL
// lines with personal data, URIs libpq misreads, files in shared places, and the guard.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <string>
#include <vector>

#include "common/error.h"
#include "connect/pg_session.h"
#include "refresh/guard.h"
#include "restore/restore_users.h"
#include "snapshot/sqlite_db.h"
#include "reliability_support.h"

namespace dbrefresh::testing {
namespace {

// ---- 1. pinned session settings -------------------------------------------------------------------

// Values whose text depends on DateStyle (day 13 and day 5 of August), IntervalStyle (a negative day
// beside a positive time) and extra_float_digits (0.1 + 0.2 prints 0.3 with fewer digits).
const char* kStyledTable = R"SQL(
CREATE TABLE styled (id int PRIMARY KEY, d date, ts timestamp, tstz timestamptz, iv interval, f8 float8,
                     f4 float4, n numeric);
INSERT INTO styled VALUES
  (1, '2025-08-13', '2025-08-13 10:11:12.345678', '2025-08-13 10:11:12+02', '-1 days +02:03:04', 0.1::float8 + 0.2::float8, 0.1, 1.5),
  (2, '2025-08-05', '2025-08-05 00:00:00', '2025-08-05 23:59:59.999999+00', '1 year 2 mons -3 days 04:05:06.7', 1e-300, 3.14159274, -0.000001),
  (3, '0044-03-15 BC', '1999-12-31 23:59:59', 'infinity', '-00:00:01', 'Infinity', 'NaN', 'NaN'),
  (4, NULL, NULL, NULL, '0', -0.0, 1e30, 0);
)SQL";

// Every row as text under one fixed set of settings, so equal means every value is exact.
std::string StyledRows(const std::string& url) {
  return Scalar(url, "SET DateStyle = 'ISO, MDY'; SET IntervalStyle = postgres; SET extra_float_digits = 3; "
                     "SET TimeZone = 'UTC'; SELECT string_agg(t::text, ' | ' ORDER BY id) FROM styled t");
}

std::string MetaValue(const std::string& file, const std::string& key) {
  SqliteDb db(file, SqliteDb::Mode::kReadOnly);
  auto stmt = db.Prepare("SELECT value FROM dbrefresh_meta WHERE key = ?");
  stmt.Bind(1, key);
  return stmt.Step() ? stmt.Text(0).value_or("") : "";
}

void EditSnapshotCopy(const std::string& from, const std::string& to, const std::string& sqlite_sql) {
  WriteText(to, ReadBytes(from));
  SqliteDb db(to, SqliteDb::Mode::kCreate);
  db.Exec(sqlite_sql);
}

TEST(HostileServer, ValuesOfADatabaseWithOtherDateIntervalAndFloatStylesComeBackExact) {
  TempDir dir;
  ScopedDatabase source(Cluster::kPreprod, "hs_styles", ScopedDatabase::Content::kEmpty);
  Query(source.url(), kStyledTable);
  Query(TestBed::Get().SuperUrl(Cluster::kPreprod, "postgres"),
        "ALTER DATABASE \"" + source.name() + "\" SET DateStyle = 'SQL, DMY'; "
        "ALTER DATABASE \"" + source.name() + "\" SET extra_float_digits = 0; "
        "ALTER ROLE \"" + ScopedDatabase::Env("DBREFRESH_TEST_USER") + "\" IN DATABASE \"" + source.name() +
        "\" SET IntervalStyle = 'sql_standard'");
  // The defaults took: a plain session of this database prints the other way.
  ASSERT_EQ(Scalar(source.url(), "SELECT '2025-08-13'::date::text"), "13/08/2025");
  ASSERT_EQ(Scalar(source.url(), "SELECT '-1 days +02:03:04'::interval::text"), "+0-0 -1 +2:03:04");
  const std::string expected = StyledRows(source.url());

  const std::string config = ConfigFile(dir, PreserveConfig({"styled"}));
  const std::string file = dir.File("styled.db");
  auto snap = RunDbrefresh({"snapshot", "--config", config, "--target", source.url(), "--out", file});
  ASSERT_EQ(snap.exit_code, 0) << snap.all();
  EXPECT_EQ(MetaValue(file, "session_datestyle"), "ISO, MDY");
  EXPECT_EQ(MetaValue(file, "session_intervalstyle"), "postgres");
  EXPECT_EQ(MetaValue(file, "session_extra_float_digits"), "3");
  EXPECT_EQ(MetaValue(file, "session_client_encoding"), "UTF8");

  // restore-users into a database with the defaults, and into one with the same odd defaults.
  for (bool odd_target : {false, true}) {
    SCOPED_TRACE(odd_target ? "target with odd defaults" : "default target");
    ScopedDatabase target(Cluster::kProd, "hs_styles_t", ScopedDatabase::Content::kEmpty);
    Query(target.url(), "CREATE TABLE styled (id int PRIMARY KEY, d date, ts timestamp, tstz timestamptz, iv interval, "
                        "f8 float8, f4 float4, n numeric)");
    if (odd_target) {
      Query(TestBed::Get().SuperUrl(Cluster::kProd, "postgres"),
            "ALTER DATABASE \"" + target.name() + "\" SET DateStyle = 'SQL, DMY'; ALTER ROLE \"" +
                ScopedDatabase::Env("DBREFRESH_TEST_USER") + "\" IN DATABASE \"" + target.name() +
                "\" SET IntervalStyle = 'sql_standard'");
    }
    auto restore = RunDbrefresh({"restore-users", file, "--config", config, "--target", target.url()});
    ASSERT_EQ(restore.exit_code, 0) << restore.all();
    EXPECT_EQ(StyledRows(target.url()), expected);

    // The seed SQL, run by psql on a database with the odd defaults, gives the same values.
    ScopedDatabase seeded(Cluster::kProd, "hs_styles_s", ScopedDatabase::Content::kEmpty);
    Query(seeded.url(), "CREATE TABLE styled (id int PRIMARY KEY, d date, ts timestamp, tstz timestamptz, iv interval, "
                        "f8 float8, f4 float4, n numeric)");
    Query(TestBed::Get().SuperUrl(Cluster::kProd, "postgres"),
          "ALTER DATABASE \"" + seeded.name() + "\" SET DateStyle = 'SQL, DMY'; ALTER DATABASE \"" + seeded.name() +
              "\" SET IntervalStyle = 'sql_standard'");
    const std::string script = dir.File("styled.sql");
    auto seed = RunDbrefresh({"seed-sql", file, "--config", config, "--out", script});
    ASSERT_EQ(seed.exit_code, 0) << seed.all();
    auto psql = PsqlFile(seeded, script);
    ASSERT_EQ(psql.exit_code, 0) << psql.all();
    EXPECT_EQ(StyledRows(seeded.url()), expected);
  }
}

TEST(HostileServer, AFileWrittenUnderOtherSettingsIsRefusedAndAnOlderOneIsReadWithAWarning) {
  TempDir dir;
  ScopedDatabase preprod(Cluster::kPreprod, "hs_meta");
  const std::string file = dir.File("s.db");
  ASSERT_EQ(RunDbrefresh({"snapshot", "--target", preprod.url(), "--out", file}).exit_code, 0);
  ScopedDatabase target(Cluster::kProd, "hs_meta_t");
  const std::string before = UserTablesDigest(target.url());

  EditSnapshotCopy(file, dir.File("dmy.db"), "UPDATE dbrefresh_meta SET value = 'SQL, DMY' WHERE key = 'session_datestyle'");
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"inspect", dir.File("dmy.db")},
        std::vector<std::string>{"restore-users", dir.File("dmy.db"), "--target", target.url()},
        std::vector<std::string>{"seed-sql", dir.File("dmy.db")}}) {
    auto r = RunDbrefresh(args);
    EXPECT_EQ(r.exit_code, 6) << args[0] << ": " << r.all();
    EXPECT_EQ(LastLine(r.err).rfind("error:", 0), 0u) << r.err;
    EXPECT_TRUE(Contains(LastLine(r.err), "DateStyle = SQL, DMY")) << r.err;
  }
  EXPECT_EQ(UserTablesDigest(target.url()), before);

  // A file from before the settings were recorded: read, with a warning that names the risk.
  EditSnapshotCopy(file, dir.File("old.db"), "DELETE FROM dbrefresh_meta WHERE key LIKE 'session_%'");
  auto old = RunDbrefresh({"inspect", dir.File("old.db")});
  EXPECT_EQ(old.exit_code, 0) << old.all();
  EXPECT_TRUE(Contains(old.err, "records no session settings")) << old.err;
  EXPECT_TRUE(Contains(old.err, "day and month swapped")) << old.err;
}

// ---- 2. row-level security ------------------------------------------------------------------------

TEST(HostileServer, ARowLevelSecurityPolicyTheRoleCannotBypassIsAnErrorNotASmallerSnapshot) {
  TempDir dir;
  ScopedDatabase preprod(Cluster::kPreprod, "hs_rls");
  const long long users = Count(preprod.url(), "SELECT count(*) FROM users");
  // The policy hides preprod's own people from anyone it applies to; FORCE applies it to the owner.
  Query(preprod.url(), "ALTER TABLE users ENABLE ROW LEVEL SECURITY; ALTER TABLE users FORCE ROW LEVEL SECURITY; "
                       "CREATE POLICY hide_preprod ON users USING (delius_username NOT LIKE 'PREPROD%')");
  auto hidden = RunDbrefresh({"snapshot", "--target", preprod.url(), "--out", dir.File("hidden.db")});
  EXPECT_EQ(hidden.exit_code, 1) << hidden.all();
  EXPECT_EQ(Lines(hidden.err).empty() ? "" : LastLine(hidden.err).substr(0, 6), "error:") << hidden.err;
  EXPECT_TRUE(Contains(LastLine(hidden.err), "row-level security")) << hidden.err;
  EXPECT_FALSE(Exists(dir.File("hidden.db")));

  // The owner without FORCE bypasses the policy: every row is in the file.
  Query(preprod.url(), "ALTER TABLE users NO FORCE ROW LEVEL SECURITY");
  auto whole = RunDbrefresh({"snapshot", "--target", preprod.url(), "--out", dir.File("whole.db")});
  ASSERT_EQ(whole.exit_code, 0) << whole.all();
  auto inspect = RunDbrefresh({"inspect", "--json", dir.File("whole.db")});
  ASSERT_EQ(inspect.exit_code, 0) << inspect.all();
  bool found = false;
  const auto described = nlohmann::json::parse(inspect.out);
  for (const auto& t : described["tables"]) {
    if (t["table"] != "users") continue;
    found = true;
    EXPECT_EQ(t["rows"].get<long long>(), users);
  }
  EXPECT_TRUE(found) << inspect.out;

  // restore-users' key look-ups on a target whose policy the role cannot bypass: an error, nothing written.
  ScopedDatabase target(Cluster::kProd, "hs_rls_t");
  Query(target.url(), "ALTER TABLE users ENABLE ROW LEVEL SECURITY; ALTER TABLE users FORCE ROW LEVEL SECURITY; "
                      "CREATE POLICY see_few ON users USING (false) WITH CHECK (true)");
  const std::string before = TableDigest(TestBed::Get().SuperUrl(Cluster::kProd, target.name()), "users");
  auto restore = RunDbrefresh({"restore-users", dir.File("whole.db"), "--target", target.url()});
  EXPECT_EQ(restore.exit_code, 1) << restore.all();
  EXPECT_TRUE(Contains(LastLine(restore.err), "row-level security")) << restore.err;
  EXPECT_EQ(TableDigest(TestBed::Get().SuperUrl(Cluster::kProd, target.name()), "users"), before);
}

// ---- 3. a lock is not a bad row ---------------------------------------------------------------------

TEST(HostileServer, ALockOnAPreservedTableStopsRestoreUsersWithNothingWrittenAndNoRowsToSeedSql) {
  TempDir dir;
  ScopedDatabase preprod(Cluster::kPreprod, "hs_lock");
  const std::string file = dir.File("s.db");
  ASSERT_EQ(RunDbrefresh({"snapshot", "--target", preprod.url(), "--out", file}).exit_code, 0);
  ScopedDatabase target(Cluster::kProd, "hs_lock_t");
  const std::string before = UserTablesDigest(target.url());
  const std::string config = ConfigFile(dir, {{"lock_timeout_seconds", 1}});

  // SHARE lets restore-users read the table but not insert into it.
  pqxx::connection holder(target.url());
  pqxx::work hold(holder);
  hold.exec("LOCK TABLE user_role_assignments IN SHARE MODE");
  auto r = RunDbrefresh({"restore-users", file, "--config", config, "--target", target.url()});
  EXPECT_EQ(r.exit_code, 1) << r.all();
  const std::string last = LastLine(r.err);
  EXPECT_EQ(last.rfind("error:", 0), 0u) << r.err;
  EXPECT_TRUE(Contains(last, "table user_role_assignments")) << last;
  EXPECT_TRUE(Contains(last, "lock")) << last;
  EXPECT_TRUE(Contains(last, "nothing written")) << last;
  EXPECT_TRUE(Contains(last, "run restore-users again")) << last;
  EXPECT_FALSE(Contains(r.err, "narrowing")) << "a lock is not a bad row: " << r.err;
  EXPECT_TRUE(Contains(r.err, "starting again")) << "bounded retries: " << r.err;
  EXPECT_FALSE(Exists(DefaultSeedPath(file)));
  hold.abort();
  EXPECT_EQ(UserTablesDigest(target.url()), before) << "rolled back";

  // Once the lock is gone, the same command completes.
  auto again = RunDbrefresh({"restore-users", file, "--config", config, "--target", target.url()});
  EXPECT_EQ(again.exit_code, 0) << again.all();
}

// ---- 4. every row accounted for ---------------------------------------------------------------------

TEST(HostileServer, RowsATriggerOrRuleSwallowsGoToTheSeedSqlAndTheRunNeverExitsZero) {
  TempDir dir;
  ScopedDatabase preprod(Cluster::kPreprod, "hs_swallow");
  const std::string file = dir.File("s.db");
  ASSERT_EQ(RunDbrefresh({"snapshot", "--target", preprod.url(), "--out", file}).exit_code, 0);
  ScopedDatabase target(Cluster::kProd, "hs_swallow_t");
  std::map<std::string, long long> before;
  for (const std::string table : {"user_qualification_assignments", "user_role_assignments"}) {
    before[table] = Count(target.url(), "SELECT count(*) FROM " + table);
  }
  const long long pipes_before =
      Count(target.url(), "SELECT count(*) FROM user_qualification_assignments WHERE qualification = 'PIPE'");
  Query(target.url(), R"SQL(
    CREATE FUNCTION swallow_pipe() RETURNS trigger LANGUAGE plpgsql AS
      $$BEGIN IF NEW.qualification = 'PIPE' THEN RETURN NULL; END IF; RETURN NEW; END$$;
    CREATE TRIGGER swallow_pipe BEFORE INSERT ON user_qualification_assignments
      FOR EACH ROW EXECUTE FUNCTION swallow_pipe();
    CREATE RULE no_referrers AS ON INSERT TO user_role_assignments WHERE NEW.role = 'CAS3_REFERRER' DO INSTEAD NOTHING;
  )SQL");
  auto r = RunDbrefresh({"restore-users", file, "--json", "--target", target.url()});
  EXPECT_EQ(r.exit_code, 5) << r.all();
  ASSERT_TRUE(Exists(DefaultSeedPath(file)));
  const std::string seed = ReadBytes(DefaultSeedPath(file));
  EXPECT_TRUE(Contains(seed, "reported the row as not inserted, without an error")) << seed.substr(0, 2000);
  for (const std::string table : {"user_qualification_assignments", "user_role_assignments"}) {
    SCOPED_TRACE(table);
    auto t = OutcomeOf(r.out, table);
    EXPECT_GT(t["to_seed_sql"].get<long long>(), 0);
    // Each snapshot row is inserted, already there, or in the seed SQL: none is lost.
    const long long rows = Count(preprod.url(), "SELECT count(*) FROM " + table);
    EXPECT_EQ(t["inserted"].get<long long>() + t["already_present"].get<long long>() + t["to_seed_sql"].get<long long>(), rows);
    // What is reported inserted is in the table.
    EXPECT_EQ(t["inserted"].get<long long>(), Count(target.url(), "SELECT count(*) FROM " + table) - before[table]);
  }
  EXPECT_EQ(Count(target.url(), "SELECT count(*) FROM user_qualification_assignments WHERE qualification = 'PIPE'"),
            pipes_before);
}

// ---- 10. DETAIL lines carry row values ----------------------------------------------------------------

TEST(HostileServer, DetailLinesWithRowValuesGoToTheSeedSqlAndToTheLogOnlyWithVerbose) {
  TempDir dir;
  ScopedDatabase preprod(Cluster::kPreprod, "hs_detail");
  Query(preprod.url(), "UPDATE users SET telephone_number = '07700 900123 DETAILCANARY' "
                       "WHERE delius_username = (SELECT min(delius_username) FROM users WHERE delius_username LIKE 'PREPROD%')");
  const std::string file = dir.File("s.db");
  ASSERT_EQ(RunDbrefresh({"snapshot", "--target", preprod.url(), "--out", file}).exit_code, 0);
  for (bool verbose : {false, true}) {
    SCOPED_TRACE(verbose ? "--verbose" : "default");
    ScopedDatabase target(Cluster::kProd, "hs_detail_t");
    Query(target.url(), "ALTER TABLE users ADD CONSTRAINT no_canary CHECK (telephone_number NOT LIKE '%CANARY%')");
    std::vector<std::string> args = {"restore-users", file, "--json", "--target", target.url(), "--seed-out", dir.File("d.sql")};
    if (verbose) args.push_back("--verbose");
    auto r = RunDbrefresh(args);
    EXPECT_EQ(r.exit_code, 5) << r.all();
    EXPECT_FALSE(Contains(r.out, "DETAILCANARY")) << "the JSON output";
    EXPECT_EQ(Contains(r.err, "Failing row contains"), verbose) << r.err;
    const std::string seed = ReadBytes(dir.File("d.sql"));
    bool comment = false;
    for (const auto& line : Lines(seed)) comment = comment || (line.rfind("--", 0) == 0 && Contains(line, "Failing row contains"));
    EXPECT_TRUE(comment) << "the reason, with PostgreSQL's DETAIL, is a comment of the seed SQL";
  }
}

// ---- 5. no SQL from a snapshot's type names, with --target ------------------------------------------

TEST(HostileServer, ASnapshotTypeTheTargetDoesNotResolveIsRefusedAndSnapshotOnlyColumnsNeedNot) {
  TempDir dir;
  ScopedDatabase preprod(Cluster::kPreprod, "hs_types");
  const std::string file = dir.File("s.db");
  ASSERT_EQ(RunDbrefresh({"snapshot", "--target", preprod.url(), "--out", file}).exit_code, 0);
  ScopedDatabase target(Cluster::kProd, "hs_types_t");
  const std::string before = UserTablesDigest(target.url());
  // A well-formed name of a type the target lacks, on a column that is written: refused.
  EditSnapshotCopy(file, dir.File("unknown.db"),
                   "UPDATE dbrefresh_columns SET type = 'no_such_type' WHERE table_name = 'users' AND column_name = 'name'");
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"restore-users", dir.File("unknown.db"), "--target", target.url()},
        std::vector<std::string>{"seed-sql", dir.File("unknown.db"), "--target", target.url()}}) {
    auto r = RunDbrefresh(args);
    EXPECT_EQ(r.exit_code, 6) << args[0] << ": " << r.all();
    EXPECT_TRUE(Contains(LastLine(r.err), "users.name")) << r.err;
  }
  EXPECT_EQ(UserTablesDigest(target.url()), before);
  // The same on a column only the snapshot has (preprod's newer migrations): not written, so fine.
  const std::string column = "cas1_cru_management_area_id";
  ASSERT_EQ(Count(target.url(), "SELECT count(*) FROM information_schema.columns WHERE table_name = 'users' AND column_name = '" +
                                    column + "'"),
            0)
      << "testdata: prod lacks " << column;
  EditSnapshotCopy(file, dir.File("only.db"),
                   "UPDATE dbrefresh_columns SET type = 'no_such_type' WHERE table_name = 'users' AND column_name = '" + column + "'");
  auto r = RunDbrefresh({"restore-users", dir.File("only.db"), "--target", target.url()});
  EXPECT_EQ(r.exit_code, 0) << r.all();
}

// ---- 6. credentials -----------------------------------------------------------------------------------

TEST(HostileServer, AUriThatLibpqMisreadsIsRefusedWithoutShowingAnyOfIt) {
  TempDir dir;
  ScopedDatabase preprod(Cluster::kPreprod, "hs_uri");
  const std::string base = "@127.0.0.1:" + std::to_string(preprod.port()) + "/" + preprod.name();
  for (const std::string& password : {std::string("Pa@ss-w0rd"), std::string("Pa/ss-w0rd"), std::string("P@a/ss-w0rd")}) {
    SCOPED_TRACE(password);
    const std::string uri = "postgresql://cas_admin:" + password + base;
    for (bool flag : {true, false}) {
      std::vector<std::string> args = {"snapshot", "--out", dir.File("x.db")};
      std::map<std::string, std::string> env;
      if (flag) {
        args.insert(args.end(), {"--target", uri});
      } else {
        env["DBREFRESH_TARGET_URL"] = uri;
      }
      auto r = RunDbrefresh(args, env);
      EXPECT_EQ(r.exit_code, 2) << r.all();
      EXPECT_EQ(Lines(r.err).size(), 1u) << r.err;
      EXPECT_EQ(r.err.rfind("error:", 0), 0u) << r.err;
      EXPECT_TRUE(Contains(r.err, flag ? "--target" : "DBREFRESH_TARGET_URL")) << r.err;
      for (const std::string piece : {"ss-w0rd", "Pa@", "Pa/", "P@a"}) EXPECT_FALSE(Contains(r.all(), piece)) << piece;
    }
  }
  // A ':' inside the password is read right by libpq, and keeps working.
  const std::string role = "hs_colon_" + std::to_string(::getpid());
  Query(TestBed::Get().SuperUrl(Cluster::kPreprod, "postgres"),
        "DROP ROLE IF EXISTS " + role + "; CREATE ROLE " + role + " LOGIN PASSWORD 'Co:lon:pw'; GRANT " +
            ScopedDatabase::Env("DBREFRESH_TEST_USER") + " TO " + role);
  auto colon = RunDbrefresh({"snapshot", "--out", dir.File("colon.db"), "--target", "postgresql://" + role + ":Co:lon:pw" + base});
  EXPECT_EQ(colon.exit_code, 0) << colon.all();
  EXPECT_FALSE(Contains(colon.all(), "lon:pw"));
  Query(TestBed::Get().SuperUrl(Cluster::kPreprod, "postgres"), "DROP ROLE IF EXISTS " + role);
}

// ---- 8. files -----------------------------------------------------------------------------------------

// Runs dbrefresh under umask 000, so any file it does not create private would be world-readable.
CommandResult RunUnderOpenUmask(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"sh", "-c", "umask 000; exec \"$0\" \"$@\"", std::string(DBREFRESH_BINARY)};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunProgram(argv);
}

TEST(HostileServer, SeedSqlIsPrivateReplacesAFixedPathWholeAndNeverFollowsALink) {
  TempDir dir;
  ScopedDatabase preprod(Cluster::kPreprod, "hs_files");
  const std::string file = dir.File("s.db");
  ASSERT_EQ(RunDbrefresh({"snapshot", "--target", preprod.url(), "--out", file}).exit_code, 0);
  const std::string out = dir.File("seed.sql");
  for (int run = 0; run < 2; ++run) {  // the second run replaces the first's file
    auto r = RunUnderOpenUmask({"seed-sql", file, "--out", out});
    ASSERT_EQ(r.exit_code, 0) << r.all();
    EXPECT_EQ(FileMode(out), 0600);
  }
  // A link planted at the path is replaced by the file; what it pointed at is untouched.
  WriteText(dir.File("victim"), "untouched");
  ASSERT_EQ(::symlink(dir.File("victim").c_str(), dir.File("link.sql").c_str()), 0);
  ASSERT_EQ(RunUnderOpenUmask({"seed-sql", file, "--out", dir.File("link.sql")}).exit_code, 0);
  EXPECT_EQ(ReadBytes(dir.File("victim")), "untouched");
  struct stat st {};
  ASSERT_EQ(::lstat(dir.File("link.sql").c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // Nothing but the files asked for is left in the directory.
  for (const auto& name : DirectoryEntries(dir.path())) EXPECT_EQ(name.find(".tmp-"), std::string::npos) << name;
}

TEST(HostileServer, SnapshotOutRefusesToReplaceAFileUnlessForced) {
  TempDir dir;
  ScopedDatabase preprod(Cluster::kPreprod, "hs_out");
  const std::string file = dir.File("s.db");
  WriteText(file, "last week's people");
  auto refused = RunDbrefresh({"snapshot", "--target", preprod.url(), "--out", file});
  EXPECT_EQ(refused.exit_code, 2) << refused.all();
  EXPECT_TRUE(Contains(LastLine(refused.err), "--force")) << refused.err;
  EXPECT_EQ(ReadBytes(file), "last week's people");
  auto forced = RunDbrefresh({"snapshot", "--target", preprod.url(), "--out", file, "--force"});
  EXPECT_EQ(forced.exit_code, 0) << forced.all();
  EXPECT_EQ(RunDbrefresh({"inspect", file}).exit_code, 0);
}

// ---- 9. the guard ---------------------------------------------------------------------------------------

TEST(HostileServer, TheReadOnlyCheckFailsWhenTheSessionSettingDidNotTake) {
  ScopedDatabase prod(Cluster::kProd, "hs_ro");
  PgSession source = OpenSession({prod.url(), "--source"}, Access::kReadOnly);
  EXPECT_NO_THROW(RequireReadOnlySession(source));
  // A connection pooler that drops session SETs leaves a session like this one.
  pqxx::nontransaction(*source.conn).exec("RESET default_transaction_read_only");
  {
    // A READ ONLY transaction of the checker's own says "on" regardless: the old check could not fail.
    pqxx::read_transaction tx(*source.conn);
    EXPECT_EQ(tx.exec("SHOW transaction_read_only")[0][0].as<std::string>(), "on");
  }
  try {
    RequireReadOnlySession(source);
    FAIL() << "a writable source session passed the check";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kBlocked);
    EXPECT_TRUE(Contains(e.what(), "not read-only")) << e.what();
  }
}

TEST(HostileServer, TheGuardRefusesTheSameDatabaseWhenPgControlSystemIsUnreadable) {
  ScopedDatabase preprod(Cluster::kPreprod, "hs_same");
  // In this database only, nobody but the superuser may read the cluster's system identifier.
  Query(TestBed::Get().SuperUrl(Cluster::kPreprod, preprod.name()),
        "REVOKE EXECUTE ON FUNCTION pg_control_system() FROM PUBLIC");
  EXPECT_THROW(Query(preprod.url(), "SELECT system_identifier FROM pg_control_system()"), pqxx::sql_error);
  // Two spellings of the same database, through two roles: as if prod's host were an alias of preprod's.
  const ConnectionSpec source{TestBed::Get().ReaderUrl(Cluster::kPreprod, preprod.name()), "--source"};
  const ConnectionSpec target{preprod.conninfo() + " password=" + TestBed::Get().password(), "--target"};
  try {
    Guard(source, target, preprod.name());
    FAIL() << "the guard let a database be refreshed from itself";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kBlocked);
    EXPECT_TRUE(Contains(e.what(), "same database")) << e.what();
  }
  // Different databases pass, and --force is no argument of the guard at all.
  ScopedDatabase prod(Cluster::kProd, "hs_same_p");
  EXPECT_NO_THROW(Guard({prod.url(), "--source"}, {preprod.url(), "--target"}, preprod.name()));
}

TEST(HostileServer, TheGuardPassesAPreprodRestoredFromASnapshotOfProdAndKeepingItsSystemIdentifier) {
  OwnTestBed bed;
  const std::string db = bed.FreshDatabase(Cluster::kPreprod, "hs_rds");
  // "prod" becomes a byte copy of "preprod", as an RDS snapshot restore makes one: same system
  // identifier, same database names, another live server on another port.
  ASSERT_EQ(bed.PgCtl(Cluster::kPreprod, "stop").exit_code, 0);
  ASSERT_EQ(bed.PgCtl(Cluster::kProd, "stop").exit_code, 0);
  const std::string prod_data = bed.Env("DBREFRESH_TEST_PROD_DATA"), preprod_data = bed.Env("DBREFRESH_TEST_PREPROD_DATA");
  ASSERT_EQ(RunProgram({"sh", "-c", "rm -rf \"$0\" && cp -a \"$1\" \"$0\" && rm -f \"$0/postmaster.pid\"", prod_data,
                        preprod_data}).exit_code, 0);
  std::vector<std::string> start = {bed.Env("DBREFRESH_TEST_PG_BIN") + "/pg_ctl", "-D", prod_data, "-o",
                                    "-p " + bed.Port(Cluster::kProd) + " -k " + prod_data, "-l", prod_data + "/server.log",
                                    "-w", "-t", "30", "start"};
  if (::geteuid() == 0) start.insert(start.begin(), {"runuser", "-u", "postgres", "--"});
  auto started = RunProgram(start);
  ASSERT_EQ(started.exit_code, 0) << started.all();
  ASSERT_EQ(bed.PgCtl(Cluster::kPreprod, "start").exit_code, 0);
  const std::string id = "SELECT system_identifier::text FROM pg_control_system()";
  ASSERT_EQ(Scalar(bed.SuperUrl(Cluster::kProd, "postgres"), id), Scalar(bed.SuperUrl(Cluster::kPreprod, "postgres"), id));

  EXPECT_NO_THROW(Guard({bed.Url(Cluster::kProd, db), "--source"}, {bed.Url(Cluster::kPreprod, db), "--target"}, db));
  EXPECT_THROW(Guard({bed.Url(Cluster::kPreprod, db), "--source"}, {bed.Url(Cluster::kPreprod, db), "--target"}, db), Error);
}

}  // namespace
}  // namespace dbrefresh::testing
