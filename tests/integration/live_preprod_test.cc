// A live preprod and a killed run lose nobody (issue 13, SPEC section 5): an application writing
// to preprod throughout a refresh, a refresh killed with its children (as a pod dies) and the same
// command run again, a second run beside a live one, the old databases of swap, and a post-check
// that compares sets of migrations when preprod's extra one sorts below prod's newest.
#include <gtest/gtest.h>

#include <cctype>
#include <iostream>
#include <regex>

#include <nlohmann/json.hpp>

#include "live_preprod_support.h"

namespace dbrefresh::testing {
namespace {

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// What a person can check about the people of a database: usernames, and username/role and
// username/qualification pairs.
struct People {
  std::set<std::string> users, roles, quals;
};

const char* kRolesSql =
    "SELECT u.delius_username || '/' || r.role FROM user_role_assignments r JOIN users u ON u.id = r.user_id";
const char* kQualsSql =
    "SELECT u.delius_username || '/' || q.qualification FROM user_qualification_assignments q JOIN users u ON u.id = q.user_id";

People PeopleOf(const std::string& url) {
  return {Set(url, "SELECT delius_username FROM users"), Set(url, kRolesSql), Set(url, kQualsSql)};
}

// A prod copy (the source) and a preprod copy (the target), the run's files in a directory of the
// test's own; swap's databases dropped at the end.
class LivePreprod : public ::testing::Test {
 protected:
  LivePreprod() : prod_(Cluster::kProd, "lp_prod"), preprod_(Cluster::kPreprod, "lp_preprod") {
    snapshots_ = files_.File("snapshots");
  }
  ~LivePreprod() override {
    const std::string postgres = TestBed::Get().SuperUrl(Cluster::kPreprod, "postgres");
    try {
      for (const auto& db : Set(postgres, "SELECT datname FROM pg_database WHERE datname LIKE '" + preprod_.name() + "\\_%'")) {
        TestBed::Get().DropDatabase(Cluster::kPreprod, db);
      }
    } catch (...) {
    }
  }

  const ScopedDatabase& Prod() const { return prod_; }
  const ScopedDatabase& Preprod() const { return preprod_; }
  std::map<std::string, std::string> Connections() const {
    return {{"DBREFRESH_SOURCE_URL", prod_.url()}, {"DBREFRESH_TARGET_URL", preprod_.url()}};
  }
  std::vector<std::string> RefreshArgs(const std::vector<std::string>& extra = {}) const {
    std::vector<std::string> args = {"refresh", "--confirm-target", preprod_.name(), "--snapshot-dir", snapshots_};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }
  std::vector<std::string> BinaryAnd(const std::vector<std::string>& args) const {
    std::vector<std::string> argv = {DBREFRESH_BINARY};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }
  CommandResult Run(const std::vector<std::string>& args) const { return RunDbrefresh(args, Connections()); }

  // Complete snapshot files of the run directory (no partial ones).
  std::vector<std::string> Snapshots() const {
    std::vector<std::string> out;
    if (!Exists(snapshots_)) return out;
    for (const auto& name : DirectoryEntries(snapshots_)) {
      if (name.size() > 3 && name.compare(name.size() - 3, 3, ".db") == 0) out.push_back(snapshots_ + "/" + name);
    }
    return out;
  }

  // The preprod people are all in the target, with every prod user.
  void ExpectEveryPreprodPerson(const People& before, const std::string& when) const {
    const People now = PeopleOf(preprod_.url());
    auto users = Missing(before.users, now.users), roles = Missing(before.roles, now.roles),
         quals = Missing(before.quals, now.quals);
    EXPECT_TRUE(users.empty()) << when << ": " << users.size() << " preprod people lost, e.g. " << users.front();
    EXPECT_TRUE(roles.empty()) << when << ": " << roles.size() << " preprod roles lost, e.g. " << roles.front();
    EXPECT_TRUE(quals.empty()) << when << ": " << quals.size() << " preprod qualifications lost, e.g. " << quals.front();
    const std::string ids = "SELECT id::text FROM users";
    EXPECT_TRUE(Missing(Set(prod_.url(), ids), Set(preprod_.url(), ids)).empty()) << when << ": prod users missing";
    EXPECT_EQ(DuplicateRolePairs(preprod_.url()), 0) << when;
  }

  ScopedDatabase prod_;
  ScopedDatabase preprod_;
  TempDir files_, bin_;
  std::string snapshots_;
};

// ---- 1. a busy application on preprod during the whole refresh ------------------------------------

class LivePreprodBusyApplication : public LivePreprod, public ::testing::WithParamInterface<std::string> {};

// PREPROD_ONLY_22 ... PREPROD_ONLY_38: preprod-only people with plain names, whom the application edits.
std::vector<std::string> EditedPeople() {
  std::vector<std::string> out;
  for (int i = 22; i <= 38; ++i) out.push_back("PREPROD_ONLY_" + std::to_string(i));
  return out;
}

TEST_P(LivePreprodBusyApplication, EveryWriteCommittedDuringTheRefreshIsInTheTargetAfterwards) {
  const std::string strategy = GetParam();
  if (strategy == "clean") {
    // strategy clean refuses preprod's blocking objects (Refresh.CleanStrategyIsRefusedWhilePreprodOnlyObjectsBlockIt)
    ASSERT_EQ(PsqlFile(Preprod(), std::string(DBREFRESH_SOURCE_DIR) + "/testdata/scenarios/no-blocking-objects.sql").exit_code, 0);
  }
  const People before = PeopleOf(Preprod().url());
  const std::string edited_in = "('PREPROD_ONLY_22','PREPROD_ONLY_23','PREPROD_ONLY_24','PREPROD_ONLY_25','PREPROD_ONLY_26',"
                                "'PREPROD_ONLY_27','PREPROD_ONLY_28','PREPROD_ONLY_29','PREPROD_ONLY_30','PREPROD_ONLY_31',"
                                "'PREPROD_ONLY_32','PREPROD_ONLY_33','PREPROD_ONLY_34','PREPROD_ONLY_35','PREPROD_ONLY_36',"
                                "'PREPROD_ONLY_37','PREPROD_ONLY_38')";
  // The role rows of the edited people: their ids survive the refresh (prod has none of them).
  const auto edited_roles_before = Set(Preprod().url(), "SELECT r.id::text FROM user_role_assignments r JOIN users u ON "
                                                        "u.id = r.user_id WHERE u.delius_username IN " + edited_in);
  const std::string pg_bin = SlowPgBin(bin_, 3, 0, 0);  // pg_dump starts 3 s late: the writes go on meanwhile
  const std::string report = files_.File("report.json");
  std::vector<std::string> args = RefreshArgs({"--strategy", strategy, "--pg-bin", pg_bin, "--report", report});
  if (strategy == "swap") args.push_back("--terminate-connections");

  LiveApplication app(Preprod().url(), "lp" + std::to_string(::getpid()) + strategy, EditedPeople(), seconds(240));
  ASSERT_TRUE(app.WaitForCommits(8, seconds(20))) << "the application never got going";
  const long long committed_before_run = app.committed();
  auto r = Run(args);
  const long long committed_during_run = app.committed() - committed_before_run;
  // A few more writes on the refreshed target, then the application stops.
  app.WaitForCommits(app.committed() + 8, seconds(20));
  app.Stop();
  const LiveApplication::Log log = app.log();

  ASSERT_EQ(r.exit_code, 0) << r.all();
  const std::string t = Preprod().url();
  const auto users = Set(t, "SELECT id::text FROM users");
  const auto roles = Set(t, "SELECT id::text FROM user_role_assignments");
  const auto quals = Set(t, "SELECT id::text FROM user_qualification_assignments");
  std::vector<std::string> lost;
  long long reflected = 0;
  for (const auto& [id, username] : log.people) {
    if (users.count(id)) ++reflected; else lost.push_back("person " + username);
  }
  for (const auto& [id, what] : log.roles_added) {
    if (log.roles_revoked.count(id)) continue;  // granted, then revoked
    if (roles.count(id)) ++reflected; else lost.push_back("role " + what);
  }
  for (const auto& [id, what] : log.quals_added) {
    if (quals.count(id)) ++reflected; else lost.push_back("qualification " + what);
  }
  for (const auto& [id, what] : log.roles_revoked) {
    if (!roles.count(id)) ++reflected; else lost.push_back("revoked role back: " + what);
  }
  for (const auto& [username, values] : log.phones) {
    const std::string now = Scalar(t, "SELECT coalesce(telephone_number, '<null>') FROM users WHERE delius_username = '" + username + "'");
    if (values.count(now)) ++reflected; else lost.push_back("telephone of " + username + " is '" + now + "', not '" + *values.rbegin() + "'");
  }
  // Nobody else lost: every person, and the edited people's roles except those revoked.
  auto users_now = Set(t, "SELECT delius_username FROM users");
  for (const auto& u : Missing(before.users, users_now)) lost.push_back("preprod person " + u);
  for (const auto& id : edited_roles_before) {
    if (!log.roles_revoked.count(id) && !roles.count(id)) lost.push_back("preprod role row " + id);
  }
  // What the run reports of its catch-up: the rows it brought up to date and how long writes waited.
  std::string counts;
  for (const auto& line : Lines(r.err)) {
    if (Contains(line, "lock_window_seconds")) counts += "\n  " + line;
  }
  std::cout << "[ strategy " << strategy << " ] writes committed: " << log.committed() << " (" << committed_during_run
            << " while the refresh ran: " << log.inserts << " people, " << log.grants << " grants, " << log.revokes
            << " revokes, " << log.updates << " telephone edits; " << log.in_doubt << " in doubt, " << log.no_row
            << " touched no row, " << log.failed << " sessions lost); reflected in the target: " << reflected << " of "
            << reflected + static_cast<long long>(lost.size()) << ";" << counts << std::endl;
  RecordProperty("writes_committed", std::to_string(log.committed()));
  RecordProperty("writes_lost", std::to_string(lost.size()));
  EXPECT_GE(committed_during_run, 20) << "too few writes while the refresh ran to prove anything";
  EXPECT_TRUE(lost.empty()) << lost.size() << " committed write(s) not reflected in the target, e.g.:\n"
                            << ::testing::PrintToString(std::vector<std::string>(lost.begin(), lost.begin() + std::min<size_t>(lost.size(), 15)));
  EXPECT_EQ(DuplicateRolePairs(t), 0);
  // Once the run has succeeded nothing of the capture is left to log the application's writes.
  EXPECT_EQ(Count(t, "SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal AND tgrelid IN ('users'::regclass, "
                     "'user_role_assignments'::regclass, 'user_qualification_assignments'::regclass)"), 0);
  EXPECT_EQ(Scalar(t, "SELECT to_regnamespace('dbrefresh_capture')::text"), "");
  // The people the application left alone keep their roles, and everyone their qualifications.
  const auto edited = EditedPeople();
  const auto roles_now = Set(t, kRolesSql);
  for (const auto& pair : Missing(before.roles, roles_now)) {
    if (std::find(edited.begin(), edited.end(), pair.substr(0, pair.find('/'))) == edited.end()) {
      ADD_FAILURE() << "role lost: " << pair;
    }
  }
  for (const auto& pair : Missing(before.quals, Set(t, kQualsSql))) ADD_FAILURE() << "qualification lost: " << pair;
}

INSTANTIATE_TEST_SUITE_P(Strategies, LivePreprodBusyApplication, ::testing::Values("schema", "swap", "clean"));

// ---- 2. SIGKILL of the whole process group, then the same command -----------------------------------

// The moment the run is killed, as the target shows it.
enum class Moment { kUsersDropped, kProdRowsWithoutPreprods };

class LivePreprodKilled : public LivePreprod {
 protected:
  // A prod user that preprod lacks, and a preprod-only person.
  bool TargetHasProdRowsOnly() const {
    try {
      return Count(Preprod().url(), "SELECT count(*) FROM users WHERE delius_username = '" + prod_only_ + "'") == 1 &&
             Count(Preprod().url(), "SELECT count(*) FROM users WHERE delius_username = 'PREPROD_ONLY_01'") == 0;
    } catch (const std::exception&) {
      return false;  // not there yet
    }
  }
  bool UsersDropped() const { return Scalar(Preprod().url(), "SELECT to_regclass('users')::text").empty(); }

  // Kills the process group of `run` (dbrefresh, pg_restore, the wrappers) as a pod dies, and waits
  // until the servers have ended every session it had.
  void KillAsAPodDies(BackgroundProcess& run) {
    const std::string now = Scalar(TestBed::Get().SuperUrl(Cluster::kPreprod, "postgres"), "SELECT now()::text");
    const std::set<int> ports = LocalPortsOfGroup(run.pid());
    run.KillGroup();
    EXPECT_EQ(run.Wait(seconds(30)), 128 + SIGKILL);
    EXPECT_TRUE(WaitUntil([&] { return PgClientsOf(Preprod().name()).empty(); }, seconds(20)));
    EXPECT_TRUE(WaitUntil([&] { return SessionsFrom(ports, now) == 0; }, seconds(30)))
        << "the killed run's sessions outlived it by 30 s";
  }

  void SetUp() override {
    const auto preprod_users = Set(Preprod().url(), "SELECT delius_username FROM users");
    for (const auto& u : Set(Prod().url(), "SELECT delius_username FROM users ORDER BY 1")) {
      if (!preprod_users.count(u)) {
        prod_only_ = u;
        break;
      }
    }
    ASSERT_FALSE(prod_only_.empty());
  }
  std::string prod_only_;
};

class LivePreprodKill : public LivePreprodKilled, public ::testing::WithParamInterface<Moment> {};

TEST_P(LivePreprodKill, TheSameCommandAgainResumesFromTheKilledRunsSnapshotAndKeepsEveryPreprodPerson) {
  const Moment moment = GetParam();
  const People before = PeopleOf(Preprod().url());
  // pg_restore starts 2 s late and ends 3 s late: the target stays cleared, or with prod's rows only, a while.
  const auto args = RefreshArgs({"--pg-bin", SlowPgBin(bin_, 0, 2, 3), "--keep-snapshots", "1"});

  BackgroundProcess first(BinaryAnd(args), Connections());
  const bool reached = WaitUntil([&] {
    return first.Exited() || (moment == Moment::kUsersDropped ? UsersDropped() : TargetHasProdRowsOnly());
  }, seconds(120));
  ASSERT_TRUE(reached && !first.Exited()) << "the run never reached the moment; it ended with " << first.Wait(milliseconds(0))
                                          << ":\n" << first.Err();
  KillAsAPodDies(first);
  // The target as the kill left it.
  if (moment == Moment::kUsersDropped) {
    EXPECT_TRUE(UsersDropped()) << "the target's users table";
  } else {
    EXPECT_TRUE(TargetHasProdRowsOnly()) << "prod's people, none of preprod's";
  }
  ASSERT_EQ(Snapshots().size(), 1u) << "the killed run's snapshot";
  const std::string killed_runs_snapshot = Snapshots().front();
  RecordProperty("mark_after_kill", RefreshMark(Cluster::kPreprod, Preprod().name()));
  EXPECT_NE(RefreshMark(Cluster::kPreprod, Preprod().name()), "") << "the target is marked as being refreshed";

  // Someone taking a snapshot by hand meanwhile is refused: it would hold prod's people, or none.
  const std::string by_hand = files_.File("by-hand.db");
  auto snapshot = RunDbrefresh({"snapshot", "--target", Preprod().url(), "--out", by_hand});
  EXPECT_EQ(snapshot.exit_code, 4) << snapshot.all();
  EXPECT_TRUE(Contains(LastLine(snapshot.err), "refresh")) << "names the command that resumes: " << snapshot.err;
  EXPECT_FALSE(Exists(by_hand));

  // The same command where the snapshot is not (another pod's volume): refused, naming the file; nothing changed.
  if (moment == Moment::kUsersDropped) {
    const std::string away = files_.File("away.db");
    std::filesystem::rename(killed_runs_snapshot, away);
    const std::string mark = RefreshMark(Cluster::kPreprod, Preprod().name());
    auto elsewhere = Run(args);
    EXPECT_EQ(elsewhere.exit_code, 4) << elsewhere.all();
    const std::string file_name = std::filesystem::path(killed_runs_snapshot).filename().string();
    EXPECT_TRUE(Contains(LastLine(elsewhere.err), file_name)) << "names the snapshot: " << elsewhere.err;
    EXPECT_TRUE(UsersDropped()) << "nothing changed";
    EXPECT_EQ(RefreshMark(Cluster::kPreprod, Preprod().name()), mark);
    EXPECT_TRUE(Snapshots().empty()) << "no new snapshot of the half-refreshed target: " << ::testing::PrintToString(Snapshots());
    std::filesystem::rename(away, killed_runs_snapshot);
  }

  // Next Monday's job: the same command.
  auto second = Run(args);
  RecordProperty("second_exit_code", second.exit_code);
  ASSERT_EQ(second.exit_code, 0) << second.all();
  ExpectEveryPreprodPerson(before, "after the same command");
  EXPECT_TRUE(Contains(Lower(second.err), "resuming")) << "the log says it resumed:\n" << second.err;
  EXPECT_EQ(RefreshMark(Cluster::kPreprod, Preprod().name()), "") << "the mark is cleared once the run has finished";
  // The snapshot that holds the preprod people is still there, whole, and the report names it.
  ASSERT_TRUE(Exists(killed_runs_snapshot)) << "--keep-snapshots 1 removed the only snapshot with the preprod people";
  EXPECT_EQ(RunDbrefresh({"inspect", killed_runs_snapshot}).exit_code, 0);
  EXPECT_EQ(SnapshotScalar(killed_runs_snapshot, "SELECT count(*) FROM rows_users WHERE delius_username = 'PREPROD_ONLY_01'"), "1");
  bool named = false;
  for (const auto& name : DirectoryEntries(snapshots_)) {
    if (name.size() > 12 && name.compare(name.size() - 12, 12, ".report.json") == 0) {
      const std::string text = ReadBytes(snapshots_ + "/" + name);
      if (Contains(text, "\"resumed_from\"") && Contains(text, killed_runs_snapshot)) named = true;
    }
  }
  EXPECT_TRUE(named) << "no report records resumed_from " << killed_runs_snapshot << "; files: "
                     << ::testing::PrintToString(DirectoryEntries(snapshots_));

  // And the week after: still everyone.
  auto third = Run(args);
  ASSERT_EQ(third.exit_code, 0) << third.all();
  ExpectEveryPreprodPerson(before, "after a third run");
  EXPECT_EQ(CountUserTables(Preprod().url()), AfterCorrectRefresh());
  EXPECT_GE(Snapshots().size(), 1u);
}

std::string MomentName(const ::testing::TestParamInfo<Moment>& info) {
  return info.param == Moment::kUsersDropped ? "WhenUsersHasJustBeenDropped" : "WhenTheTargetHoldsProdsRowsButNotPreprods";
}

INSTANTIATE_TEST_SUITE_P(Moments, LivePreprodKill,
                         ::testing::Values(Moment::kUsersDropped, Moment::kProdRowsWithoutPreprods), MomentName);

// What a second run could change: the user tables (when there), the objects, the mark, the files.
std::string TargetFacts(const ScopedDatabase& db, const std::string& snapshots) {
  std::string facts = ::testing::PrintToString(ObjectNames(db.url())) + "\nmark: " + RefreshMark(db.cluster(), db.name());
  if (!Scalar(db.url(), "SELECT to_regclass('users')::text").empty()) facts += "\nrows: " + UserTablesDigest(db.url());
  facts += "\nschemas: " + ::testing::PrintToString(Set(db.url(), "SELECT nspname FROM pg_namespace"));
  // A refused run may leave a report of its own; nothing else.
  facts += "\nfiles:";
  for (const auto& name : Exists(snapshots) ? DirectoryEntries(snapshots) : std::vector<std::string>{}) {
    if (!Contains(name, ".report.json")) facts += " " + name;
  }
  return facts;
}

TEST_F(LivePreprodKilled, ASecondRunWhileTheFirstIsAliveRefusesAndChangesNothing) {
  const People before = PeopleOf(Preprod().url());
  // pg_dump waits 6 s, pg_restore 5 s before it starts: the first run stays in each state a while.
  const auto args = RefreshArgs({"--pg-bin", SlowPgBin(bin_, 6, 5, 0), "--keep-snapshots", "1"});
  BackgroundProcess first(BinaryAnd(args), Connections());

  struct When {
    std::string name;
    std::function<bool()> reached;
  };
  const std::vector<When> moments = {
      {"the first run is dumping", [&] { return CurrentStep(first.Err()) == "dump"; }},
      {"the first run has dropped users", [&] { return UsersDropped(); }},
  };
  for (const auto& when : moments) {
    SCOPED_TRACE(when.name);
    ASSERT_TRUE(WaitUntil([&] { return first.Exited() || when.reached(); }, seconds(120)) && !first.Exited())
        << "the first run ended before the moment:\n" << first.Err();
    const std::string facts = TargetFacts(Preprod(), snapshots_);
    auto second = Run(args);
    EXPECT_EQ(second.exit_code, 4) << second.all();
    EXPECT_TRUE(Contains(Lower(LastLine(second.err)), "another")) << "names the other run: " << second.err;
    // The first run is still where it was (waiting on its slowed program), so nothing may have changed.
    ASSERT_TRUE(!first.Exited() && when.reached()) << "the moment was too short to judge; widen it:\n" << first.Err();
    EXPECT_EQ(TargetFacts(Preprod(), snapshots_), facts) << "the refused run changed something";
  }
  // The first run is unharmed.
  EXPECT_EQ(first.Wait(seconds(180)), 0) << first.Err();
  ExpectEveryPreprodPerson(before, "after the first run");
  EXPECT_EQ(CountUserTables(Preprod().url()), AfterCorrectRefresh());
}

// ---- 4. old databases of swap ------------------------------------------------------------------------

TEST_F(LivePreprod, TwoSwapsWithKeepBeforeDatabasesOneLeaveOnlyTheNewestAndTheOnesNamedByHand) {
  const People before = PeopleOf(Preprod().url());
  const std::string postgres = TestBed::Get().SuperUrl(Cluster::kPreprod, "postgres");
  const std::string manual = Preprod().name() + "_before_manual", old = Preprod().name() + "_before_20200101000000";
  for (const auto& db : {manual, old}) {
    Query(postgres, "CREATE DATABASE \"" + db + "\" OWNER \"" + ScopedDatabase::Env("DBREFRESH_TEST_USER") + "\"");
  }
  const std::regex made_by_swap(Preprod().name() + "_before_[0-9]{14}");
  auto before_databases = [&] {
    std::vector<std::string> out;
    for (const auto& db : Set(postgres, "SELECT datname FROM pg_database WHERE datname LIKE '" + Preprod().name() + "\\_before\\_%'")) {
      if (std::regex_match(db, made_by_swap)) out.push_back(db);
    }
    return out;
  };
  const auto args = RefreshArgs({"--strategy", "swap", "--keep-before-databases", "1"});

  auto first = Run(args);
  ASSERT_EQ(first.exit_code, 0) << first.all();
  auto after_first = before_databases();
  ASSERT_EQ(after_first.size(), 1u) << ::testing::PrintToString(after_first);
  EXPECT_NE(after_first.front(), old) << "the older one is dropped, the one just made kept";

  auto second = Run(args);
  ASSERT_EQ(second.exit_code, 0) << second.all();
  auto after_second = before_databases();
  ASSERT_EQ(after_second.size(), 1u) << ::testing::PrintToString(after_second);
  EXPECT_GT(after_second.front(), after_first.front()) << "the newest is kept";
  EXPECT_EQ(Count(postgres, "SELECT count(*) FROM pg_database WHERE datname = '" + manual + "'"), 1)
      << "a database named by hand is never dropped";
  EXPECT_TRUE(Contains(second.err, after_first.front())) << "the drop is logged:\n" << second.err;
  ExpectEveryPreprodPerson(before, "after two swaps");
  EXPECT_EQ(CountUserTables(Preprod().url()), AfterCorrectRefresh());
}

// A swap killed after its rename (during the post-check, which runs the post-restore command) left
// the target refreshed, still marked, and the old target kept as the one "before" database. The
// same command resumes and swaps again: with --keep-before-databases 1 it must not drop that one,
// the only database that still is the target as it was before the refresh.
TEST_F(LivePreprodKilled, ASwapKilledAfterItsRenameKeepsTheTargetAsItWasWhenResumed) {
  const People before = PeopleOf(Preprod().url());
  const std::string postgres = TestBed::Get().SuperUrl(Cluster::kPreprod, "postgres");
  auto before_databases = [&] {
    return Set(postgres, "SELECT datname FROM pg_database WHERE datname LIKE '" + Preprod().name() + "\\_before\\_%'");
  };
  const auto args = RefreshArgs({"--strategy", "swap", "--keep-before-databases", "1", "--post-restore-command", "sleep,10"});

  BackgroundProcess first(BinaryAnd(args), Connections());
  const bool reached = first.WaitForErr([](const std::string& err) { return Contains(err, "command=sleep"); }, seconds(120));
  ASSERT_TRUE(reached && !first.Exited()) << "the run never reached its post-check:\n" << first.Err();
  KillAsAPodDies(first);
  const auto after_kill = before_databases();
  ASSERT_EQ(after_kill.size(), 1u) << "the killed swap's old target: " << ::testing::PrintToString(after_kill);
  const std::string original = *after_kill.begin();
  ASSERT_NE(RefreshMark(Cluster::kPreprod, Preprod().name()), "") << "the refreshed target is still marked";

  auto second = Run(args);
  ASSERT_EQ(second.exit_code, 0) << second.all();
  EXPECT_TRUE(Contains(Lower(second.err), "resuming")) << second.err;
  const auto after_resume = before_databases();
  EXPECT_EQ(after_resume.size(), 2u) << "the killed swap's and the resumed run's: " << ::testing::PrintToString(after_resume);
  ASSERT_EQ(after_resume.count(original), 1u) << "the target as it was before the refresh was dropped";
  const std::string original_url = TestBed::Get().Url(Cluster::kPreprod, original);
  EXPECT_EQ(PeopleOf(original_url).users, before.users) << "it still holds preprod's people as they were";
  EXPECT_EQ(RefreshMark(Cluster::kPreprod, original), "") << "its copy of the killed run's mark is cleared";
  EXPECT_EQ(RefreshMark(Cluster::kPreprod, Preprod().name()), "");
  ExpectEveryPreprodPerson(before, "after the resumed swap");
}

// ---- 5. the post-check with an out-of-order extra migration ------------------------------------------

// The target is prod's schema plus people of its own and one extra migration whose version,
// 20241115090000000, sorts below prod's newest (20250114103000123), as Flyway's outOfOrder allows:
// it adds users.nickname. Comparing single versions, the post-check would think preprod was not ahead.
TEST(LivePreprodPostCheck, AnOutOfOrderExtraMigrationIsReappliedWaitedForAndItsColumnRefilled) {
  ScopedDatabase prod(Cluster::kProd, "lp_pc_prod");
  ScopedDatabase target(Cluster::kProd, "lp_pc_target");  // a prod copy: the same migrations but one
  TempDir dir;
  const std::string migration =
      "ALTER TABLE users ADD COLUMN nickname text;"
      "INSERT INTO flyway_schema_history (installed_rank, version, description, type, script, checksum, installed_by, "
      "execution_time, success) SELECT max(installed_rank) + 1, '20241115090000000', 'add users nickname', 'SQL', "
      "'V20241115090000000__add_users_nickname.sql', 12345, current_user, 3, true FROM flyway_schema_history;";
  Query(target.url(),
        migration +
            "UPDATE users SET nickname = 'nick of ' || delius_username WHERE delius_username LIKE '%1%';"
            "INSERT INTO users (id, name, delius_username, probation_region_id, delius_staff_code, nickname) "
            "SELECT md5('pc-only-' || g)::uuid, 'Target Only ' || g, 'TARGET_ONLY_' || g, (SELECT id FROM probation_regions "
            "ORDER BY id LIMIT 1), 'T' || g, 'only nick ' || g FROM generate_series(1, 5) g;"
            "INSERT INTO user_role_assignments (id, user_id, role) SELECT md5('pc-role-' || g)::uuid, md5('pc-only-' || g)::uuid, "
            "'CAS1_ASSESSOR' FROM generate_series(1, 5) g;");
  const std::string nicknames = "SELECT delius_username || ' = ' || nickname FROM users WHERE nickname IS NOT NULL";
  const auto nicknames_before = Set(target.url(), nicknames);
  ASSERT_GT(nicknames_before.size(), 50u);

  // The service's rollout restart: returns at once; Flyway applies the migration 3 s later.
  const std::string marker = dir.File("marker"), sql = dir.File("migration.sql");
  WriteText(sql, "BEGIN;" + migration + "COMMIT;");
  WriteScript(dir.File("flyway.sh"), "sleep 3\n'" + RealPgBin() + "/psql' -X -q -v ON_ERROR_STOP=1 -d \"$TARGET\" -f '" + sql +
                                     "' && echo migration applied >> '" + marker + "'\n");
  WriteScript(dir.File("rollout.sh"), "echo command ran >> '" + marker + "'\nTARGET='" + target.url() + "' setsid '" +
                                      dir.File("flyway.sh") + "' </dev/null >'" + dir.File("rollout.log") + "' 2>&1 &\n");
  const std::string report = dir.File("report.json");
  auto r = RunDbrefresh({"refresh", "--confirm-target", target.name(), "--snapshot-dir", dir.File("runs"),
                         "--post-restore-command", dir.File("rollout.sh"), "--wait-for-migrations", "60", "--report", report},
                        {{"DBREFRESH_SOURCE_URL", prod.url()}, {"DBREFRESH_TARGET_URL", target.url()}});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  const std::string ran = ReadBytes(marker);
  EXPECT_TRUE(Contains(ran, "command ran")) << "the post-restore command never ran:\n" << r.err;
  EXPECT_TRUE(Contains(ran, "migration applied")) << ReadBytes(dir.File("rollout.log"));
  EXPECT_EQ(Count(target.url(), "SELECT count(*) FROM flyway_schema_history WHERE version = '20241115090000000' AND success"), 1);
  // The column came back only 3 s after the command returned: its values are in only if the wait waited.
  ASSERT_EQ(Count(target.url(), "SELECT count(*) FROM pg_attribute WHERE attrelid = 'users'::regclass AND attname = 'nickname' "
                                "AND NOT attisdropped"), 1)
      << "users.nickname is missing: the extra migration was never re-applied";
  const auto missing = Missing(nicknames_before, Set(target.url(), nicknames));
  EXPECT_TRUE(missing.empty()) << missing.size() << " nicknames not refilled from the snapshot, e.g. " << missing.front();
  EXPECT_EQ(Count(target.url(), "SELECT count(*) FROM users WHERE delius_username LIKE 'TARGET\\_ONLY\\_%'"), 5);
  EXPECT_EQ(Count(target.url(), "SELECT count(*) FROM user_role_assignments r JOIN users u ON u.id = r.user_id "
                                "WHERE u.delius_username LIKE 'TARGET\\_ONLY\\_%'"), 5);
  auto doc = nlohmann::json::parse(ReadBytes(report), nullptr, false);
  ASSERT_FALSE(doc.is_discarded());
  for (const auto& step : doc["steps"]) {
    if (step["name"] == "post-check") {
      EXPECT_EQ(step["counts"]["target_was_ahead"], true) << step.dump();
      EXPECT_EQ(step["counts"]["migrations_reapplied"], true) << step.dump();
    }
  }
}

}  // namespace
}  // namespace dbrefresh::testing
