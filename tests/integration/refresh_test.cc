// `dbrefresh refresh` end to end on the test bed: the guard's refusals, strategies schema and swap,
// locks on the target, failures that keep the snapshot and say how to resume, and today's job
// failing where refresh succeeds (SPEC sections 1, 5, 6, 7).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "connect/pg_session.h"
#include "refresh/guard.h"
#include "refresh_support.h"

namespace dbrefresh::testing {
namespace {

class Refresh : public DatabasePair {
 protected:
  CommandResult RunRefresh(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"refresh", "--confirm-target", preprod().name(), "--snapshot-dir", snapshots_.path()};
    args.insert(args.end(), extra.begin(), extra.end());
    CommandResult r = Run(args);
    ExpectNoPassword(r.all(), "refresh output");
    return r;
  }
  // The run's files, by suffix (".db", ".report.json", ...).
  std::string RunFile(const std::string& suffix) const {
    for (const auto& name : DirectoryEntries(snapshots_.path())) {
      if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0 &&
          name.find(".partial") == std::string::npos) {
        return snapshots_.File(name);
      }
    }
    return "";
  }
  nlohmann::json Report() const { return nlohmann::json::parse(ReadBytes(RunFile(".report.json"))); }

  TempDir snapshots_;
};

// ---- the guard --------------------------------------------------------------------------------

TEST_F(Refresh, GuardRefusesTheSameDatabase) {
  const std::string before = UserTablesDigest(preprod().url());
  // The same database reached through two spellings of the connection.
  auto r = RunDbrefresh({"refresh", "--confirm-target", preprod().name(), "--snapshot-dir", snapshots_.path()},
                        {{"DBREFRESH_SOURCE_URL", preprod().conninfo() + " password=" + Password()},
                         {"DBREFRESH_TARGET_URL", preprod().url()}});
  EXPECT_EQ(r.exit_code, 4) << r.all();
  EXPECT_TRUE(Contains(LastLine(r.err), "same database")) << r.err;
  EXPECT_EQ(UserTablesDigest(preprod().url()), before);
  EXPECT_TRUE(DirectoryEntries(snapshots_.path()).empty());
  ExpectNoPassword(r.all(), "refresh output");
}

TEST_F(Refresh, GuardRefusesAWrongOrMissingConfirmTargetEvenWithForce) {
  const std::string prod_before = UserTablesDigest(prod().url()), preprod_before = UserTablesDigest(preprod().url());
  const auto objects_before = ObjectNames(preprod().url());
  auto wrong = Run({"refresh", "--confirm-target", "cas_preprod_typo", "--force", "--snapshot-dir", snapshots_.path()});
  EXPECT_EQ(wrong.exit_code, 4) << wrong.all();
  EXPECT_TRUE(Contains(LastLine(wrong.err), "does not match the target database '" + preprod().name() + "'")) << wrong.err;
  auto missing = Run({"refresh", "--snapshot-dir", snapshots_.path()});
  EXPECT_EQ(missing.exit_code, 4) << missing.all();
  EXPECT_TRUE(Contains(LastLine(missing.err), "--confirm-target " + preprod().name())) << missing.err;
  EXPECT_EQ(UserTablesDigest(prod().url()), prod_before);
  EXPECT_EQ(UserTablesDigest(preprod().url()), preprod_before);
  EXPECT_EQ(ObjectNames(preprod().url()), objects_before);
  EXPECT_TRUE(DirectoryEntries(snapshots_.path()).empty());
}

TEST_F(Refresh, GuardSourceSessionCannotWrite) {
  GuardedSessions sessions = Guard({prod().url(), "--source"}, {preprod().url(), "--target"}, preprod().name());
  pqxx::nontransaction tx(*sessions.source.conn);
  try {
    tx.exec("CREATE TABLE dbrefresh_must_not_exist (id int)");
    FAIL() << "a write through the source session succeeded";
  } catch (const pqxx::sql_error& e) {
    EXPECT_EQ(e.sqlstate(), "25006") << e.what();  // read_only_sql_transaction
  }
  EXPECT_EQ(Scalar(prod().url(), "SELECT to_regclass('dbrefresh_must_not_exist')::text"), "");
}

// ---- strategy schema ----------------------------------------------------------------------------

TEST_F(Refresh, SchemaStrategyRestoresProdAndKeepsEveryPreprodPerson) {
  ScopedDatabase original(Cluster::kPreprod, "rf_original");  // an untouched copy of preprod to compare with
  const std::string report = snapshots_.File("extra-report.json");
  auto r = RunRefresh({"--report", report});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  ExpectProdRowsAndEveryPreprodPerson(prod().url(), original.url(), preprod().url());
  EXPECT_EQ(DuplicateRolePairs(preprod().url()), 0);
  EXPECT_EQ(Scalar(preprod().url(), "SELECT to_regclass('active_user_emails')::text"), "") << "preprod-only view removed";

  const std::string dropped = ReadBytes(RunFile(".dropped.sql"));
  EXPECT_TRUE(Contains(dropped, "CREATE VIEW public.active_user_emails")) << dropped;
  EXPECT_TRUE(Contains(dropped, "CREATE TABLE public.user_notification_preferences"));
  EXPECT_TRUE(Contains(dropped, "FUNCTION public.count_active_users()"));
  for (const char* suffix : {".db", ".dropped.sql", ".report.json"}) EXPECT_EQ(FileMode(RunFile(suffix)), 0600) << suffix;
  EXPECT_EQ(RunFile(".seed.sql"), "") << "no row needed the seed SQL";

  auto doc = Report();
  EXPECT_EQ(doc["exit_code"], 0);
  std::vector<std::string> steps;
  for (const auto& s : doc["steps"]) steps.push_back(s["name"]);
  EXPECT_EQ(steps, (std::vector<std::string>{"guard", "preflight", "snapshot", "dump", "clear", "restore", "restore-users",
                                             "post-check", "report"}));
  for (const auto& s : doc["steps"]) EXPECT_EQ(s["status"], "ok") << s.dump();
  EXPECT_EQ(doc["tables"].size(), 3u);
  EXPECT_EQ(doc["paths"]["snapshot"], RunFile(".db"));
  EXPECT_EQ(nlohmann::json::parse(ReadBytes(report))["exit_code"], 0);
  for (const auto& text : {dropped, ReadBytes(RunFile(".report.json")), ReadBytes(report)}) ExpectNoPassword(text, "files");
  EXPECT_TRUE(Contains(r.out, RunFile(".db"))) << "the run prints its files";
}

// The constraints and indexes of the public schema, with whether each constraint is validated.
std::set<std::string> KeysAndIndexes(const std::string& url) {
  auto names = Set(url, "SELECT conrelid::regclass::text || ' ' || conname || ' ' || contype::text || ' ' || convalidated::text "
                        "FROM pg_constraint WHERE connamespace = 'public'::regnamespace");
  for (const auto& i : Set(url, "SELECT indexrelid::regclass::text FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                                "WHERE c.relnamespace = 'public'::regnamespace")) {
    names.insert("index " + i);
  }
  return names;
}

TEST_F(Refresh, RestoreUsersRunsWhileTheRestOfTheDumpRestoresAndNothingOfTheDumpIsLeftOut) {
  // Prod gets a table of its own pointing at users, and a materialized view over users: the
  // foreign key must wait for restore-users (it would lock users), the view's data too.
  Query(prod().url(),
        "CREATE TABLE audit_events (id bigint PRIMARY KEY, actor_id uuid NOT NULL REFERENCES users (id), what text);"
        "INSERT INTO audit_events SELECT g, (SELECT id FROM users ORDER BY id LIMIT 1), 'x' FROM generate_series(1, 5000) g;"
        "CREATE MATERIALIZED VIEW user_count AS SELECT count(*) AS n FROM users;"
        "CREATE INDEX audit_events_what_idx ON audit_events (what);"
        "COMMENT ON INDEX audit_events_what_idx IS 'restored after restore-users';");
  ScopedDatabase original(Cluster::kPreprod, "rf_original");

  auto r = RunRefresh({"--log-format", "json"});

  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_TRUE(Contains(r.err, "restore: the preserved tables first")) << r.err;
  ExpectProdRowsAndEveryPreprodPerson(prod().url(), original.url(), preprod().url());
  EXPECT_EQ(Count(preprod().url(), "SELECT count(*) FROM audit_events"), 5000);
  // Every constraint and index of prod, validated as in prod: none left out by the phases.
  EXPECT_EQ(KeysAndIndexes(preprod().url()), KeysAndIndexes(prod().url()));
  EXPECT_EQ(Scalar(preprod().url(), "SELECT obj_description('audit_events_what_idx'::regclass)"), "restored after restore-users");
  // The view's data comes after restore-users: it counts the preserved people too.
  EXPECT_EQ(Count(preprod().url(), "SELECT n FROM user_count"), Count(preprod().url(), "SELECT count(*) FROM users"));
  EXPECT_GT(Count(preprod().url(), "SELECT n FROM user_count"), Count(prod().url(), "SELECT n FROM user_count"));
}

TEST_F(Refresh, APreservedTableWithATriggerOfItsOwnIsRestoredWholeFirst) {
  // What a trigger writes could be a table still restoring: then the dump is restored whole, then
  // restore-users runs, as it always did.
  Query(prod().url(), kUsersTouchTrigger);
  ScopedDatabase original(Cluster::kPreprod, "rf_original");

  auto r = RunRefresh({"--log-format", "json"});

  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_TRUE(Contains(r.err, "restore: the whole dump, then restore-users")) << r.err;
  EXPECT_TRUE(Contains(r.err, "users_touch")) << "says why";
  ExpectProdRowsAndEveryPreprodPerson(prod().url(), original.url(), preprod().url());
  EXPECT_EQ(KeysAndIndexes(preprod().url()), KeysAndIndexes(prod().url()));
}

TEST_F(Refresh, APreservedPartitionedTableKeepsItsRowsAndItsPartitionIndexesAttach) {
  // A fourth preserved table, partitioned, with an index on the parent: the dump attaches each
  // partition's index to it by items that have no catalog oid, which the phased restore runs last.
  const std::string ddl =
      "CREATE TABLE user_logins (id bigint NOT NULL, user_id uuid NOT NULL REFERENCES users (id), at date NOT NULL,"
      " PRIMARY KEY (id, at)) PARTITION BY RANGE (at);"
      "CREATE TABLE user_logins_2024 PARTITION OF user_logins FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');"
      "CREATE TABLE user_logins_2025 PARTITION OF user_logins FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');"
      "CREATE INDEX user_logins_user_idx ON user_logins (user_id);";
  Query(prod().url(), ddl + "INSERT INTO user_logins SELECT row_number() OVER (), id, '2024-06-01' FROM users");
  Query(preprod().url(), ddl + "INSERT INTO user_logins SELECT 100000 + row_number() OVER (), id, '2025-06-01' FROM users");
  const long long prod_logins = Count(prod().url(), "SELECT count(*) FROM user_logins");
  const long long preprod_logins = Count(preprod().url(), "SELECT count(*) FROM user_logins");
  TempDir dir;
  const std::string config = ConfigFile(
      dir, PreserveConfig({"users", "user_role_assignments", "user_qualification_assignments", "user_logins"}));

  auto r = RunRefresh({"--config", config});

  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_TRUE(Contains(r.err, "the preserved tables first")) << "the phased restore ran:\n" << r.err;
  EXPECT_EQ(CountUserTables(preprod().url()), AfterCorrectRefresh());
  EXPECT_EQ(Count(preprod().url(), "SELECT count(*) FROM user_logins"), prod_logins + preprod_logins)
      << "prod's logins and every one of preprod's (its people are all back)";
  EXPECT_EQ(Count(preprod().url(), "SELECT count(*) FROM user_logins l WHERE NOT EXISTS "
                                   "(SELECT 1 FROM users u WHERE u.id = l.user_id)"), 0);
  EXPECT_EQ(Count(preprod().url(), "SELECT count(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                                   "WHERE c.relkind = 'i' AND i.inhparent = 'user_logins_user_idx'::regclass"), 2)
      << "both partitions' indexes are attached";
  EXPECT_EQ(Scalar(preprod().url(), "SELECT indisvalid::text FROM pg_index WHERE indexrelid = 'user_logins_user_idx'::regclass"),
            "true");
  EXPECT_EQ(KeysAndIndexes(preprod().url()), KeysAndIndexes(prod().url()));
}

TEST_F(Refresh, CleanStrategyIsRefusedWhilePreprodOnlyObjectsBlockIt) {
  const std::string before = UserTablesDigest(preprod().url());
  auto r = RunRefresh({"--strategy", "clean"});
  EXPECT_EQ(r.exit_code, 4) << r.all();
  EXPECT_TRUE(Contains(r.err, "view active_user_emails -> table users")) << r.err;
  EXPECT_EQ(UserTablesDigest(preprod().url()), before);
}

TEST_F(Refresh, KeepSnapshotsRemovesOlderRunsOnly) {
  ASSERT_EQ(RunRefresh({"--keep-snapshots", "1"}).exit_code, 0);
  const std::string first = RunFile(".db");
  // Straight after: a run in the same second as the first waits for the next itself (its file names).
  auto r = RunRefresh({"--keep-snapshots", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_FALSE(Exists(first));
  EXPECT_EQ(DirectoryEntries(snapshots_.path()).size(), 4u) << "one run: .db, .dropped.sql, .report.json, .mark.json";
  EXPECT_EQ(CountUserTables(preprod().url()), AfterCorrectRefresh()) << "a second refresh changes nothing more";
}

TEST_F(Refresh, CleanStrategyWorksWhenNothingBlocksIt) {
  ASSERT_EQ(PsqlFile(preprod(), std::string(DBREFRESH_SOURCE_DIR) + "/testdata/scenarios/no-blocking-objects.sql").exit_code, 0);
  auto r = RunRefresh({"--strategy", "clean"});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_EQ(CountUserTables(preprod().url()), AfterCorrectRefresh());
  EXPECT_EQ(RunFile(".dropped.sql"), "") << "strategy clean drops nothing of its own";
}

TEST_F(Refresh, RowsThatCannotGoInEndWithExitFiveAndTheSeedSql) {
  // A preprod-only region (prod lacks it) used by one preprod-only person: that row cannot go in.
  Query(preprod().url(),
        "INSERT INTO probation_regions (id, name) VALUES ('00000000-0000-0000-0000-00000000abcd', 'Preprod only'); "
        "UPDATE users SET probation_region_id = '00000000-0000-0000-0000-00000000abcd' "
        "WHERE delius_username = 'PREPROD_ONLY_37'");
  auto r = RunRefresh();
  ASSERT_EQ(r.exit_code, 5) << r.all();
  const std::string seed = RunFile(".seed.sql");
  ASSERT_NE(seed, "");
  EXPECT_EQ(FileMode(seed), 0600);
  EXPECT_TRUE(Contains(ReadBytes(seed), "00000000-0000-0000-0000-00000000abcd"));
  auto doc = Report();
  EXPECT_EQ(doc["exit_code"], 5);
  EXPECT_EQ(doc["paths"]["seed_sql"], seed);
  EXPECT_TRUE(Contains(r.out, seed)) << r.out;
}

// ---- locks on the target ------------------------------------------------------------------------

TEST_F(Refresh, ALockOnAPreprodTableFailsAfterTheLockTimeoutAndLeavesTheTargetAlone) {
  pqxx::connection holder(preprod().url());
  pqxx::work lock(holder);
  lock.exec("SELECT count(*) FROM users");  // ACCESS SHARE on users until the transaction ends
  const std::string before = UserTablesDigest(preprod().url());
  const auto objects = ObjectNames(preprod().url());
  auto r = RunRefresh({"--lock-timeout", "1"});
  EXPECT_EQ(r.exit_code, 1) << r.all();
  EXPECT_TRUE(Contains(LastLine(r.err), "--terminate-connections")) << r.err;
  EXPECT_TRUE(Contains(r.err, "pid=" + std::to_string(holder.backendpid()))) << "names the lock holder: " << r.err;
  EXPECT_EQ(UserTablesDigest(preprod().url()), before);
  EXPECT_EQ(ObjectNames(preprod().url()), objects);
  EXPECT_TRUE(Exists(RunFile(".db"))) << "the snapshot is kept";
}

TEST_F(Refresh, TerminateConnectionsEndsTheLockHolderAndCompletes) {
  pqxx::connection holder(preprod().url());
  pqxx::work lock(holder);
  lock.exec("SELECT count(*) FROM users");
  auto r = RunRefresh({"--lock-timeout", "1", "--terminate-connections"});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_TRUE(Contains(r.err, "ended a session on the target")) << r.err;
  EXPECT_TRUE(Contains(r.err, "pid=" + std::to_string(holder.backendpid()))) << r.err;
  EXPECT_EQ(CountUserTables(preprod().url()), AfterCorrectRefresh());
  EXPECT_THROW(lock.exec("SELECT 1"), pqxx::broken_connection);
}

// ---- strategy swap -------------------------------------------------------------------------------

TEST_F(Refresh, SwapStrategyRenamesTheRestoredDatabaseIntoPlaceAndKeepsTheOld) {
  auto r = RunRefresh({"--strategy", "swap"});
  const std::string postgres = TestBed::Get().SuperUrl(Cluster::kPreprod, "postgres");
  const std::string old_db =
      Scalar(postgres, "SELECT datname FROM pg_database WHERE datname LIKE '" + preprod().name() + "\\_before\\_%'");
  ASSERT_EQ(r.exit_code, 0) << r.all();
  ASSERT_FALSE(old_db.empty());
  const std::string old_url = TestBed::Get().Url(Cluster::kPreprod, old_db);
  ExpectProdRowsAndEveryPreprodPerson(prod().url(), old_url, preprod().url());
  EXPECT_EQ(Count(old_url, "SELECT count(*) FROM users"), Expected()["preprod"]["users"].get<long long>());
  EXPECT_NE(Scalar(old_url, "SELECT to_regclass('active_user_emails')::text"), "") << "the old database keeps its objects";
  EXPECT_EQ(Scalar(postgres, "SELECT count(*) FROM pg_database WHERE datname LIKE '%dbrefresh_new'"), "0");
  const auto doc = Report();
  std::vector<std::string> steps;
  for (const auto& s : doc["steps"]) steps.push_back(s["name"]);
  EXPECT_NE(std::find(steps.begin(), steps.end(), "swap"), steps.end());
  TestBed::Get().DropDatabase(Cluster::kPreprod, old_db);
}

// ---- failures keep the snapshot and say how to resume --------------------------------------------

TEST_F(Refresh, AFailingPgDumpKeepsTheSnapshotAndPrintsTheResumeCommand) {
  TempDir bin;
  WriteScript(bin.File("pg_dump"),
              "case \"$1\" in --version) echo 'pg_dump (PostgreSQL) 15.0';; *) echo 'pg_dump: error: simulated failure' >&2; "
              "exit 1;; esac\n");
  WriteScript(bin.File("pg_restore"), "echo 'pg_restore (PostgreSQL) 15.0'\n");
  const std::string before = UserTablesDigest(preprod().url());
  auto r = RunRefresh({"--pg-bin", bin.path()});
  EXPECT_EQ(r.exit_code, 1) << r.all();
  const std::string last = LastLine(r.err);
  EXPECT_TRUE(Contains(last, "simulated failure")) << last;
  EXPECT_TRUE(Contains(last, "The target is unchanged")) << last;
  EXPECT_TRUE(Contains(last, "dbrefresh refresh --confirm-target " + preprod().name())) << last;
  EXPECT_TRUE(Contains(last, "password=****")) << last;
  ASSERT_NE(RunFile(".db"), "");
  EXPECT_TRUE(Contains(last, RunFile(".db"))) << last;
  EXPECT_EQ(UserTablesDigest(preprod().url()), before);
  auto doc = Report();
  EXPECT_EQ(doc["exit_code"], 1);
  EXPECT_EQ(doc["steps"].back()["name"], "dump");
  EXPECT_EQ(doc["steps"].back()["status"], "failed");
  EXPECT_EQ(doc["steps"][2]["name"], "snapshot");
  EXPECT_EQ(doc["steps"][2]["status"], "ok") << "pg_dump failing alongside does not cut the snapshot short";
}

// pg_dump reads the source while the snapshot reads the target: the dump (the first pg_dump that is
// not --version; the clear step runs another for the DDL it drops) starts before the snapshot file
// is complete, and the refresh still ends with every row where it belongs.
TEST_F(Refresh, TheDumpRunsWhileTheSnapshotIsTaken) {
  TempDir bin;
  const std::string real = RealPgBin(), seen = bin.File("seen-at-dump-start");
  WriteScript(bin.File("pg_dump"), "case \"$1\" in --version) exec '" + real + "/pg_dump' \"$@\";; esac\n"
                                   "[ -e '" + seen + "' ] || ls '" + snapshots_.path() + "' > '" + seen + "'\n"
                                   "exec '" + real + "/pg_dump' \"$@\"\n");
  WriteScript(bin.File("pg_restore"), "exec '" + real + "/pg_restore' \"$@\"\n");
  auto r = RunRefresh({"--pg-bin", bin.path()});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  const std::string listing = ReadBytes(seen);
  std::istringstream names(listing);
  for (std::string name; std::getline(names, name);) {
    EXPECT_FALSE(name.size() > 3 && name.compare(name.size() - 3, 3, ".db") == 0)
        << "the snapshot " << name << " was complete before pg_dump started";
  }
  EXPECT_EQ(CountUserTables(preprod().url()), AfterCorrectRefresh());
  const auto doc = Report();
  EXPECT_EQ(doc["steps"][3]["name"], "dump");
  EXPECT_EQ(doc["steps"][3]["status"], "ok");
}

TEST_F(Refresh, AFailedRestoreResumesFromTheKeptSnapshot) {
  TempDir bin;
  const std::string real = RealPgBin();
  WriteScript(bin.File("pg_dump"), "exec '" + real + "/pg_dump' \"$@\"\n");
  WriteScript(bin.File("pg_restore"),
              "case \"$1\" in --version|--list) exec '" + real + "/pg_restore' \"$@\";; esac\n"
              "echo 'pg_restore: error: simulated failure' >&2; exit 1\n");
  ScopedDatabase original(Cluster::kPreprod, "rf_original");
  auto failed = RunRefresh({"--pg-bin", bin.path()});
  ASSERT_EQ(failed.exit_code, 1) << failed.all();
  const std::string snapshot = RunFile(".db");
  EXPECT_TRUE(Contains(LastLine(failed.err), "--use-snapshot " + snapshot)) << failed.err;
  EXPECT_EQ(Scalar(preprod().url(), "SELECT to_regclass('users')::text"), "") << "the target was cleared";

  auto resumed = RunRefresh({"--use-snapshot", snapshot});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.all();
  ExpectProdRowsAndEveryPreprodPerson(prod().url(), original.url(), preprod().url());
}

// ---- today's job fails where refresh succeeds ---------------------------------------------------

class KnownIssue : public Refresh {
 protected:
  // Today's job from a prod copy to a second preprod copy prepared like preprod().
  CommandResult RunTodaysJob(const ScopedDatabase& target) {
    return RunProgram({std::string(DBREFRESH_SOURCE_DIR) + "/scripts/current-job.sh", prod().conninfo(), target.conninfo(),
                       job_dir_.path()},
                      PasswordEnv());
  }
  void ApplyScenario(const ScopedDatabase& db, const std::string& file) {
    ASSERT_EQ(PsqlFile(db, std::string(DBREFRESH_SOURCE_DIR) + "/testdata/scenarios/" + file).exit_code, 0);
  }
  TempDir job_dir_;
};

TEST_F(KnownIssue, KnownIssue_PreprodOnlyObjectsBreakTodaysJobButNotRefresh) {
  ScopedDatabase today(Cluster::kPreprod, "rf_today");
  RunTodaysJob(today);
  EXPECT_TRUE(Contains(ReadBytes(job_dir_.File("restore.stderr")), "cannot drop table public.users"));
  EXPECT_EQ(Count(today.url(), "SELECT count(*) FROM users"), Expected()["preprod"]["users"].get<long long>())
      << "today: prod's users never arrive";
  auto r = RunRefresh();
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_EQ(CountUserTables(preprod().url()), AfterCorrectRefresh());
}

TEST_F(KnownIssue, KnownIssue_ExtraColumnsLosePreprodUsersTodayButNotWithRefresh) {
  ScopedDatabase today(Cluster::kPreprod, "rf_today");
  ApplyScenario(today, "no-blocking-objects.sql");
  ApplyScenario(preprod(), "no-blocking-objects.sql");
  auto job = RunTodaysJob(today);
  EXPECT_EQ(job.exit_code, 0) << "today's job says success";
  EXPECT_EQ(Count(today.url(), "SELECT count(*) FROM users"), Expected()["prod"]["users"].get<long long>());
  auto r = RunRefresh();
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_EQ(CountUserTables(preprod().url()).users, AfterCorrectRefresh().users);
}

TEST_F(KnownIssue, KnownIssue_NamesakesKeepTheirRolesWithRefresh) {
  ScopedDatabase today(Cluster::kPreprod, "rf_today");
  for (const char* s : {"no-blocking-objects.sql", "no-extra-columns.sql"}) {
    ApplyScenario(today, s);
    ApplyScenario(preprod(), s);
  }
  RunTodaysJob(today);
  const std::string role = Expected()["collision_only_role"];
  EXPECT_EQ(UsersWithRole(today.url(), role), 0) << "today: the namesakes' roles are lost";
  auto r = RunRefresh();
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_EQ(UsersWithRole(preprod().url(), role), Expected()["after_correct_refresh"]["users_with_role_CAS1_APPEALS_MANAGER"]);
  EXPECT_EQ(DuplicateRolePairs(preprod().url()), 0);
}

TEST_F(KnownIssue, KnownIssue_NewerMigrationsAreReappliedAndTheirColumnsRefilled) {
  ScopedDatabase original(Cluster::kPreprod, "rf_original");
  const std::string migrate = std::string(DBREFRESH_SOURCE_DIR) + "/scripts/load-testdata.sh";
  // The post-restore command gets no database password from dbrefresh (issue 14): the migrations it
  // runs find theirs in a password file, as a deployment brings its own credentials.
  TempDir secrets;
  std::string escaped;
  for (char c : Password()) escaped += (c == ':' || c == '\\') ? std::string("\\") + c : std::string(1, c);
  const std::string pgpass = secrets.File("pgpass");
  WriteText(pgpass, "*:*:*:*:" + escaped + "\n");
  ::chmod(pgpass.c_str(), 0600);
  auto r = RunDbrefresh({"refresh", "--confirm-target", preprod().name(), "--snapshot-dir", snapshots_.path(),
                         "--post-restore-command=" + migrate, "--post-restore-command=--migrate",
                         "--post-restore-command=preprod", "--post-restore-command=" + preprod().conninfo(),
                         "--wait-for-migrations", "60"},
                        {{"DBREFRESH_SOURCE_URL", prod().url()}, {"DBREFRESH_TARGET_URL", preprod().url()},
                         {"PGPASSWORD", Password()}, {"PGPASSFILE", pgpass}});
  ExpectNoPassword(r.all(), "refresh output");
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_TRUE(Contains(r.err, "the target had migrations the source lacks")) << r.err;
  const std::string pairs = "SELECT delius_username || '/' || employment_grade || '/' || "
                            "coalesce(cas1_cru_management_area_id::text, '-') FROM users";
  EXPECT_TRUE(Missing(Set(original.url(), pairs), Set(preprod().url(), pairs)).empty())
      << "the re-added columns are filled from the snapshot";
  EXPECT_EQ(Count(preprod().url(), "SELECT count(*) FROM users WHERE cas1_cru_management_area_id IS NOT NULL"),
            Expected()["preprod"]["users_with_cas1_cru_management_area_id"].get<long long>());
  auto post = Report()["steps"][7];
  EXPECT_EQ(post["name"], "post-check");
  EXPECT_EQ(post["counts"]["migrations_reapplied"], true);
}

}  // namespace
}  // namespace dbrefresh::testing
