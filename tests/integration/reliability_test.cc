// Reliability of the whole job (issue 7, and the forced failures of issue 4): dbrefresh killed or
// stopped in every step, servers restarting or going away under it, an application busy on the
// target, concurrent runs, and hand-edited or hostile input. After each, nothing is lost: the
// snapshot is whole, the target is untouched or has prod's data, and the command that resumes the
// job completes it with every preprod person, role and qualification in place.
#include <gtest/gtest.h>

#include <cctype>
#include <future>
#include <nlohmann/json.hpp>

#include "reliability_support.h"
#include "snapshot/sqlite_db.h"

namespace dbrefresh::testing {
namespace {

// ---- a refresh with room to interrupt it --------------------------------------------------------

// Preserved beside the three user tables; preprod has many rows, prod none, so the snapshot and
// restore-users steps take long enough to be interrupted.
constexpr int kPaddingNotes = 100000;
// Prod only, not preserved: makes pg_dump and pg_restore take long enough to be interrupted.
constexpr int kPaddingEvents = 150000;

const char* kPaddingNotesTable = "CREATE TABLE padding_notes (id bigint PRIMARY KEY, note text NOT NULL);";

nlohmann::json PaddedConfig() {
  return PreserveConfig({"users", "user_role_assignments", "user_qualification_assignments", "padding_notes"});
}

// What a person can check about the preserved people of a database.
struct People {
  std::set<std::string> users, roles, quals;
};

People PeopleOf(const std::string& url) {
  return {Set(url, "SELECT delius_username FROM users"),
          Set(url, "SELECT u.delius_username || '/' || r.role FROM user_role_assignments r JOIN users u ON u.id = r.user_id"),
          Set(url, "SELECT u.delius_username || '/' || q.qualification FROM user_qualification_assignments q "
                   "JOIN users u ON u.id = q.user_id")};
}

std::string FlywayHistory(const std::string& url) {
  return Scalar(url, "SELECT string_agg(version || ':' || success, ',' ORDER BY installed_rank) FROM flyway_schema_history");
}

// The source is never written to, so one padded prod copy serves the whole suite.
class ReliabilityRefresh : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    prod_ = new ScopedDatabase(Cluster::kProd, "rel_prod");
    Query(prod_->url(), std::string(kPaddingNotesTable) +
                            "CREATE TABLE padding_events (id bigint PRIMARY KEY, body text NOT NULL);"
                            "INSERT INTO padding_events SELECT g, repeat(md5(g::text), 3) FROM generate_series(1, " +
                            std::to_string(kPaddingEvents) + ") g");
  }
  static void TearDownTestSuite() {
    delete prod_;
    prod_ = nullptr;
  }

  ReliabilityRefresh() : preprod_(Cluster::kPreprod, "rel_preprod") {
    Query(preprod_.url(), std::string(kPaddingNotesTable) +
                              "INSERT INTO padding_notes SELECT g, 'note ' || g FROM generate_series(1, " +
                              std::to_string(kPaddingNotes) + ") g");
    config_ = ConfigFile(files_, PaddedConfig());
    snapshots_ = files_.File("snapshots");
    people_before_ = PeopleOf(preprod_.url());
    digest_before_ = UserTablesDigest(preprod_.url()) + TableDigest(preprod_.url(), "padding_notes");
    flyway_before_ = FlywayHistory(preprod_.url());
    objects_before_ = ObjectNames(preprod_.url());
  }
  ~ReliabilityRefresh() override {
    // The swap strategy's databases, if a test left any.
    const std::string postgres = TestBed::Get().SuperUrl(Cluster::kPreprod, "postgres");
    try {
      for (const auto& db : Set(postgres, "SELECT datname FROM pg_database WHERE datname LIKE '" + preprod_.name() + "\\_%'")) {
        TestBed::Get().DropDatabase(Cluster::kPreprod, db);
      }
    } catch (...) {
    }
  }

  static const ScopedDatabase& Prod() { return *prod_; }
  const ScopedDatabase& Preprod() const { return preprod_; }
  std::map<std::string, std::string> Connections() const {
    return {{"DBREFRESH_SOURCE_URL", Prod().url()}, {"DBREFRESH_TARGET_URL", Preprod().url()}};
  }
  std::vector<std::string> RefreshArgs(const std::vector<std::string>& extra = {}) const {
    std::vector<std::string> args = {"refresh",       "--confirm-target", Preprod().name(), "--snapshot-dir",
                                     snapshots_,      "--config",         config_};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }
  std::vector<std::string> BinaryAnd(const std::vector<std::string>& args) const {
    std::vector<std::string> argv = {DBREFRESH_BINARY};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }
  CommandResult Run(const std::vector<std::string>& args) const { return RunDbrefresh(args, Connections()); }

  // The run files in the snapshot directory whose names end with `suffix`.
  std::vector<std::string> FilesEndingWith(const std::string& suffix) const {
    std::vector<std::string> out;
    if (!Exists(snapshots_)) return out;
    for (const auto& name : DirectoryEntries(snapshots_)) {
      if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
        out.push_back(snapshots_ + "/" + name);
      }
    }
    return out;
  }

  // Every snapshot in place is complete; a partial file beside them can only be the killed run's own.
  void ExpectOnlyCompleteSnapshots(pid_t killed) const {
    for (const auto& db : FilesEndingWith(".db")) {
      auto inspect = RunDbrefresh({"inspect", db});
      EXPECT_EQ(inspect.exit_code, 0) << db << ": " << inspect.all();
    }
    if (!Exists(snapshots_)) return;
    for (const auto& name : DirectoryEntries(snapshots_)) {
      auto at = name.find(".partial-");
      if (at != std::string::npos) {
        EXPECT_EQ(name.substr(at + 9), std::to_string(killed)) << name;
      }
    }
  }

  enum class State { kUntouched, kIncomplete, kProdData, kRefreshed };
  static const char* Name(State s) {
    switch (s) {
      case State::kUntouched: return "untouched";
      case State::kIncomplete: return "incomplete (cleared or half-restored)";
      case State::kProdData: return "prod's data without the preserved rows";
      case State::kRefreshed: return "prod's data with the preserved rows";
    }
    return "?";
  }
  // What the target holds now. Preserved rows go in one transaction: all of them or none.
  State TargetState() const {
    const std::string url = Preprod().url();
    if (Scalar(url, "SELECT to_regclass('users')::text") == "users" &&
        Scalar(url, "SELECT to_regclass('padding_notes')::text") == "padding_notes" &&
        UserTablesDigest(url) + TableDigest(url, "padding_notes") == digest_before_ && FlywayHistory(url) == flyway_before_ &&
        ObjectNames(url) == objects_before_) {
      return State::kUntouched;
    }
    const std::string ids = "SELECT id::text FROM users";
    if (Scalar(url, "SELECT to_regclass('padding_events')::text") != "padding_events" ||
        Scalar(url, "SELECT to_regclass('padding_notes')::text") != "padding_notes" ||
        Count(url, "SELECT count(*) FROM padding_events") != kPaddingEvents ||
        !Missing(Set(Prod().url(), ids), Set(url, ids)).empty()) {
      return State::kIncomplete;
    }
    const UserTableCounts counts = CountUserTables(url);
    const long long notes = Count(url, "SELECT count(*) FROM padding_notes");
    if (counts == UserTableCounts{300, 600, 300} && notes == 0) return State::kProdData;
    EXPECT_EQ(counts, AfterCorrectRefresh()) << "preserved rows half in";
    EXPECT_EQ(notes, kPaddingNotes) << "preserved rows half in";
    return State::kRefreshed;
  }

  // Every preprod person, role and qualification, and every prod row, are in the target.
  void ExpectEveryoneThere() const {
    const std::string url = Preprod().url();
    EXPECT_EQ(CountUserTables(url), AfterCorrectRefresh());
    EXPECT_EQ(Count(url, "SELECT count(*) FROM padding_notes"), kPaddingNotes);
    EXPECT_EQ(UsersWithRole(url, Expected()["collision_only_role"]),
              Expected()["after_correct_refresh"]["users_with_role_CAS1_APPEALS_MANAGER"].get<long long>());
    EXPECT_EQ(DuplicateRolePairs(url), 0);
    const People now = PeopleOf(url);
    EXPECT_TRUE(Missing(people_before_.users, now.users).empty()) << "preprod people lost";
    EXPECT_TRUE(Missing(people_before_.roles, now.roles).empty()) << "preprod roles lost";
    EXPECT_TRUE(Missing(people_before_.quals, now.quals).empty()) << "preprod qualifications lost";
    const std::string ids = "SELECT id::text FROM users";
    EXPECT_TRUE(Missing(Set(Prod().url(), ids), Set(url, ids)).empty()) << "prod users missing";
  }

  // Waits until the server has ended every session of the killed run (it rolls back what they had open).
  void WaitForDbrefreshSessionsToEnd() const {
    const std::string super = TestBed::Get().SuperUrl(Cluster::kPreprod, "postgres");
    EXPECT_TRUE(WaitUntil([&] { return DbrefreshSessions(super, Preprod().name()) == 0; }, seconds(30)))
        << "dbrefresh sessions still on the target 30 s after it ended";
  }

  ScopedDatabase preprod_;
  TempDir files_;
  std::string config_, snapshots_;
  People people_before_;
  std::string digest_before_, flyway_before_;
  std::set<std::string> objects_before_;

 private:
  static ScopedDatabase* prod_;
};
ScopedDatabase* ReliabilityRefresh::prod_ = nullptr;

// ---- interruption at every step -----------------------------------------------------------------

struct Interruption {
  std::string step;
  int signal;
  std::string strategy;
  std::string Describe() const {
    return std::string(signal == SIGKILL ? "SIGKILL" : "SIGTERM") + " during " + step + " (strategy " + strategy + ")";
  }
};
void PrintTo(const Interruption& i, std::ostream* os) { *os << i.Describe(); }

class ReliabilityInterruption : public ReliabilityRefresh, public ::testing::WithParamInterface<Interruption> {
 protected:
  // Starts the refresh and waits until it is inside the step, with the step's work under way.
  // Returns false (and says why) when the run never got there.
  bool StartAndReachStep(BackgroundProcess& run, const Interruption& when) {
    if (!run.WaitForErr([&](const std::string& err) { return CurrentStep(err) == when.step; }, seconds(60))) {
      ADD_FAILURE() << "the run never reached step " << when.step << "; it ended with " << run.Wait(milliseconds(0))
                    << ":\n" << run.Err();
      return false;
    }
    if (when.step == "dump" || when.step == "restore") {
      // The step's program is running (and has started writing or reading the dump).
      const std::string db = when.step == "dump" ? Prod().name() : Preprod().name();
      const std::string program = when.step == "dump" ? "pg_dump" : "pg_restore";
      WaitUntil([&] {
        for (const auto& p : PgClientsOf(db)) {
          if (p.program == program && p.parent == run.pid()) return true;
        }
        return false;
      }, seconds(20));
      std::this_thread::sleep_for(milliseconds(50));
    } else if (when.step == "clear") {
      // The run's session waits for the lock the test holds.
      const std::string super = TestBed::Get().SuperUrl(Cluster::kPreprod, "postgres");
      WaitUntil([&] {
        return Count(super, "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE NOT l.granted "
                            "AND a.datname = '" + Preprod().name() + "' AND a.application_name = 'dbrefresh'") > 0;
      }, seconds(20));
    } else if (when.step == "post-check") {
      run.WaitForErr([](const std::string& err) { return Contains(err, "command=sleep"); }, seconds(20));
      std::this_thread::sleep_for(milliseconds(200));
    } else {
      std::this_thread::sleep_for(milliseconds(when.step == "snapshot" ? 60 : 250));
    }
    const std::string now = CurrentStep(run.Err());
    if (now != when.step || run.Exited()) {
      ADD_FAILURE() << "the step ended before the signal (now in '" << now << "'); widen its window:\n" << run.Err();
      return false;
    }
    return true;
  }
};

TEST_P(ReliabilityInterruption, NothingIsLostAndTheResumeCompletesTheJob) {
  const Interruption when = GetParam();
  SCOPED_TRACE(when.Describe());
  std::vector<std::string> extra = {"--strategy", when.strategy};
  if (when.step == "post-check") extra.insert(extra.end(), {"--post-restore-command", "sleep,30"});
  // A session holding a lock on users makes the clear step wait (lock timeout 1 s, 3 attempts).
  std::unique_ptr<pqxx::connection> holder;
  std::unique_ptr<pqxx::work> lock;
  if (when.step == "clear") {
    extra.insert(extra.end(), {"--lock-timeout", "1"});
    holder = std::make_unique<pqxx::connection>(Preprod().url());
    lock = std::make_unique<pqxx::work>(*holder);
    lock->exec("SELECT count(*) FROM users");
  }

  // The run's scratch space (the dump) in a directory of the test's own, to see what it leaves there.
  TempDir tmp;
  auto env = Connections();
  env["TMPDIR"] = tmp.path();
  BackgroundProcess run(BinaryAnd(RefreshArgs(extra)), env);
  if (!StartAndReachStep(run, when)) return;
  run.Signal(when.signal);
  const int code = run.Wait(seconds(30));
  const std::string err = run.Err();
  lock.reset();
  holder.reset();

  // How dbrefresh ended.
  if (when.signal == SIGKILL) {
    EXPECT_EQ(code, 128 + SIGKILL) << err;
  } else {
    EXPECT_NE(code, 0) << err;
    EXPECT_NE(code, -1) << "still running 30 s after SIGTERM:\n" << err;
    EXPECT_EQ(LastLine(err).rfind("error:", 0), 0u) << "a clear message last:\n" << err;
    EXPECT_TRUE(Contains(LastLine(err), "interrupted")) << err;
  }
  // No pg_dump or pg_restore of this run goes on writing after it.
  const bool clients_gone = WaitUntil([&] { return PgClientsOf(Preprod().name()).empty() && PgClientsOf(Prod().name()).empty(); },
                                      seconds(when.signal == SIGKILL ? 20 : 5));
  EXPECT_TRUE(clients_gone) << "pg_dump / pg_restore still running after dbrefresh ended";
  run.KillGroup();  // whatever is left (the post-restore command's sleep), as when the pod goes
  WaitForDbrefreshSessionsToEnd();
  const auto scratch_left = DirectoryEntries(tmp.path());
  if (when.signal == SIGTERM) {
    EXPECT_TRUE(scratch_left.empty()) << "left in TMPDIR: " << ::testing::PrintToString(scratch_left);
  }

  // The files: snapshots that exist are complete.
  ExpectOnlyCompleteSnapshots(run.pid());
  const auto snapshots = FilesEndingWith(".db");
  EXPECT_LE(snapshots.size(), 1u);
  if (when.step != "snapshot") {
    EXPECT_EQ(snapshots.size(), 1u) << "the snapshot is kept";
  }

  // The target: untouched, or prod's data, or (only while it is being replaced) incomplete.
  const State state = TargetState();
  RecordProperty("exit_code", code);
  RecordProperty("target_after", Name(state));
  RecordProperty("last_line", LastLine(err));
  RecordProperty("left_in_tmpdir", ::testing::PrintToString(scratch_left));
  std::set<State> allowed;
  if (when.step == "snapshot" || when.step == "dump" || when.strategy == "swap") allowed = {State::kUntouched};
  if (when.step == "clear") allowed = {State::kUntouched, State::kIncomplete};
  if (when.step == "restore" && when.strategy == "schema") allowed = {State::kIncomplete, State::kProdData};
  // restore-users runs while the rest of the dump restores (restore_phases.h): until that is done
  // too, the target is incomplete.
  if (when.step == "restore-users") allowed = {State::kIncomplete, State::kProdData, State::kRefreshed};
  if (when.step == "post-check") allowed = {State::kRefreshed};
  EXPECT_TRUE(allowed.count(state)) << "the target is " << Name(state);

  // The resume: the command the log names (SIGTERM); after SIGKILL, which leaves no last words, the
  // documented one: --use-snapshot when the run's snapshot is complete, else the same refresh again.
  std::vector<std::string> resume = ResumeArguments(LastLine(err));
  if (when.signal == SIGTERM && resume.empty()) {
    EXPECT_TRUE(Contains(LastLine(err), "Nothing was changed; run the same command again")) << "no resume command in: " << LastLine(err);
    resume = RefreshArgs({"--strategy", when.strategy});
  }
  if (resume.empty()) {
    std::vector<std::string> with = {"--strategy", when.strategy};
    if (!snapshots.empty()) with.insert(with.end(), {"--use-snapshot", snapshots.front()});
    resume = RefreshArgs(with);
  }
  // And the unchanged command (issue 13): next week's CronJob, or the runbook's `kubectl create job
  // --from=cronjob/...`, runs it whatever the killed run's log said. Both end with everyone in
  // place, one after the other. After SIGKILL (a pod killed at its deadline, evicted, OOM-killed)
  // nobody reads a log, so the unchanged command comes first; after SIGTERM the operator follows the log.
  std::vector<std::pair<std::string, std::vector<std::string>>> next = {{"the unchanged command", RefreshArgs(extra)},
                                                                       {"the resume command", resume}};
  if (when.signal == SIGTERM) std::swap(next[0], next[1]);
  for (const auto& [what, args] : next) {
    SCOPED_TRACE("after " + what);
    auto resumed = RunDbrefresh(args, env);
    RecordProperty(what == "the resume command" ? "resume_exit_code" : "unchanged_command_exit_code", resumed.exit_code);
    ASSERT_EQ(resumed.exit_code, 0) << what << ": " << ::testing::PrintToString(args) << "\n" << resumed.all();
    ExpectEveryoneThere();
  }
  EXPECT_TRUE(DirectoryEntries(tmp.path()).empty())
      << "in TMPDIR after the resume (the killed run left " << ::testing::PrintToString(scratch_left)
      << "): " << ::testing::PrintToString(DirectoryEntries(tmp.path()));
}

std::string InterruptionName(const ::testing::TestParamInfo<Interruption>& info) {
  std::string name = std::string(info.param.signal == SIGKILL ? "Kill" : "Term") + "During_" + info.param.step + "_" + info.param.strategy;
  for (char& c : name) c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return name;
}

INSTANTIATE_TEST_SUITE_P(EveryStep, ReliabilityInterruption,
                         ::testing::Values(Interruption{"snapshot", SIGKILL, "schema"}, Interruption{"dump", SIGKILL, "schema"},
                                           Interruption{"clear", SIGKILL, "schema"}, Interruption{"restore", SIGKILL, "schema"},
                                           Interruption{"restore", SIGKILL, "swap"},
                                           Interruption{"restore-users", SIGKILL, "schema"},
                                           Interruption{"post-check", SIGKILL, "schema"},
                                           Interruption{"snapshot", SIGTERM, "schema"}, Interruption{"dump", SIGTERM, "schema"},
                                           Interruption{"clear", SIGTERM, "schema"},
                                           Interruption{"restore", SIGTERM, "schema"},
                                           Interruption{"restore-users", SIGTERM, "schema"}),
                         InterruptionName);

// ---- forced failures of issue 4 -----------------------------------------------------------------

using ReliabilityForcedFailure = ReliabilityRefresh;

TEST_F(ReliabilityForcedFailure, AKilledPgRestoreKeepsTheSnapshotAndPrintsTheCommandThatResumes) {
  BackgroundProcess run(BinaryAnd(RefreshArgs()), Connections());
  pid_t killed = 0;
  ASSERT_TRUE(WaitUntil([&] {
    for (const auto& p : PgClientsOf(Preprod().name())) {
      if (p.program == "pg_restore" && p.parent == run.pid() && !Contains(p.command, "--list")) killed = p.pid;
    }
    return killed != 0 || run.Exited();
  }, seconds(60)));
  ASSERT_NE(killed, 0) << "pg_restore never ran:\n" << run.Err();
  ::kill(killed, SIGKILL);  // the OOM killer, say
  const int code = run.Wait(seconds(60));
  const std::string err = run.Err();

  EXPECT_EQ(code, 1) << err;
  const std::string last = LastLine(err);
  RecordProperty("last_line", last);
  EXPECT_EQ(last.rfind("error:", 0), 0u) << last;
  EXPECT_TRUE(Contains(last, "pg_restore")) << last;
  ASSERT_EQ(FilesEndingWith(".db").size(), 1u);
  const std::string snapshot = FilesEndingWith(".db").front();
  EXPECT_EQ(RunDbrefresh({"inspect", snapshot}).exit_code, 0);
  EXPECT_TRUE(Contains(last, "--use-snapshot " + snapshot)) << last;
  auto report = nlohmann::json::parse(ReadBytes(FilesEndingWith(".report.json").front()));
  EXPECT_EQ(report["exit_code"], 1);
  EXPECT_EQ(report["steps"].back()["name"], "restore");
  EXPECT_EQ(report["steps"].back()["status"], "failed");

  auto resumed = Run(ResumeArguments(last));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.all();
  ExpectEveryoneThere();
}

TEST_F(ReliabilityForcedFailure, AConflictUnderOnConflictFailKeepsTheSnapshotAndPrintsTheCommandThatResumes) {
  auto failed = Run(RefreshArgs({"--on-conflict", "fail"}));
  const std::string last = LastLine(failed.err);
  RecordProperty("last_line", last);
  // Exit 4 promises that nothing changed; the target was replaced, so it is 1.
  EXPECT_EQ(failed.exit_code, 1) << failed.all();
  EXPECT_EQ(last.rfind("error:", 0), 0u) << last;
  EXPECT_TRUE(Contains(last, "--on-conflict is fail")) << last;
  ASSERT_EQ(FilesEndingWith(".db").size(), 1u);
  const std::string snapshot = FilesEndingWith(".db").front();
  EXPECT_EQ(RunDbrefresh({"inspect", snapshot}).exit_code, 0);
  EXPECT_TRUE(Contains(last, "dbrefresh restore-users " + snapshot)) << last;
  EXPECT_EQ(TargetState(), State::kProdData) << "nothing of the snapshot written";

  auto resume = ResumeArguments(last);
  ASSERT_FALSE(resume.empty()) << last;
  auto resumed = RunDbrefresh(resume, {{"DBREFRESH_TARGET_URL", Preprod().url()}});
  ASSERT_EQ(resumed.exit_code, 0) << ::testing::PrintToString(resume) << "\n" << resumed.all();
  ExpectEveryoneThere();
}

// ---- load: an application busy on the target ------------------------------------------------------

using ReliabilityLoad = ReliabilityRefresh;

TEST_F(ReliabilityLoad, ABusyApplicationIsEndedByTerminateConnectionsAndTheRefreshCompletes) {
  BusyApplication app(Preprod().url(), seconds(8), milliseconds(1000));
  ASSERT_TRUE(app.WaitUntilBusy(seconds(5)));
  auto r = Run(RefreshArgs({"--terminate-connections", "--lock-timeout", "2"}));
  app.Stop();
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_TRUE(Contains(r.err, "ended a session on the target")) << r.err;
  EXPECT_GE(app.sessions_lost(), 1) << "the application's sessions were ended";
  ExpectEveryoneThere();
  const std::string super = TestBed::Get().SuperUrl(Cluster::kPreprod, "postgres");
  EXPECT_TRUE(WaitUntil([&] { return DbrefreshSessions(super, Preprod().name()) == 0; }, seconds(5)));
  EXPECT_EQ(AdvisoryLocks(super, Preprod().name()), 0);
}

TEST_F(ReliabilityLoad, ABusyApplicationHoldingLocksMakesTheRefreshFailCleanlyAfterTheLockTimeout) {
  // One of the application's sessions keeps its transaction open for the whole 10 s.
  BusyApplication app(Preprod().url(), seconds(10), milliseconds(10000));
  ASSERT_TRUE(app.WaitUntilBusy(seconds(5)));
  const auto started = Clock::now();
  auto r = Run(RefreshArgs({"--lock-timeout", "1"}));
  const bool app_still_busy = Clock::now() - started < seconds(9);
  app.Stop();
  ASSERT_TRUE(app_still_busy) << "the refresh outlasted the load; the test proves nothing";
  EXPECT_EQ(r.exit_code, 1) << r.all();
  const std::string last = LastLine(r.err);
  RecordProperty("last_line", last);
  EXPECT_EQ(last.rfind("error:", 0), 0u) << last;
  EXPECT_TRUE(Contains(last, "--terminate-connections")) << last;
  EXPECT_TRUE(Contains(last, "The target is unchanged")) << last;
  EXPECT_EQ(TargetState(), State::kUntouched);
  // The change capture's triggers take the preserved tables' lock for a moment before the snapshot,
  // so the run stops there, before it has taken one.
  EXPECT_EQ(FilesEndingWith(".db").size(), 0u) << "no snapshot of a run that stopped before taking one";
  // Nothing of dbrefresh is left on the target: no session, no advisory lock, nobody waiting.
  const std::string super = TestBed::Get().SuperUrl(Cluster::kPreprod, "postgres");
  EXPECT_TRUE(WaitUntil([&] { return DbrefreshSessions(super, Preprod().name()) == 0; }, seconds(5)));
  EXPECT_EQ(AdvisoryLocks(super, Preprod().name()), 0);
  EXPECT_EQ(Count(super, "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database WHERE NOT l.granted "
                         "AND d.datname = '" + Preprod().name() + "'"),
            0);
  EXPECT_EQ(DbrefreshSessions(TestBed::Get().SuperUrl(Cluster::kProd, "postgres"), Prod().name()), 0);
}

TEST(ReliabilityConcurrency, FourRestoreUsersAtOnceOnABusyTargetInsertEachPersonOnce) {
  ScopedDatabase preprod(Cluster::kPreprod, "rel_cc_src");
  ScopedDatabase prod(Cluster::kProd, "rel_cc_dst");
  TempDir dir;
  const std::string snapshot = dir.File("preprod.db");
  ASSERT_EQ(RunDbrefresh({"snapshot", "--target", preprod.url(), "--out", snapshot}).exit_code, 0);
  BusyApplication app(prod.url(), seconds(10), milliseconds(300));
  ASSERT_TRUE(app.WaitUntilBusy(seconds(5)));
  std::vector<std::future<CommandResult>> runs;
  for (int i = 0; i < 4; ++i) {
    runs.push_back(std::async(std::launch::async, [&] {
      return RunDbrefresh({"restore-users", snapshot, "--target", prod.url(), "--json"});
    }));
  }
  long long users_inserted = 0;
  for (auto& run : runs) {
    auto result = run.get();
    EXPECT_EQ(result.exit_code, 0) << result.all();
    if (result.exit_code == 0) users_inserted += OutcomeOf(result.out, "users")["inserted"].get<long long>();
  }
  app.Stop();
  EXPECT_EQ(users_inserted, 40) << "each preprod-only person inserted by exactly one run";
  EXPECT_EQ(CountUserTables(prod.url()), AfterCorrectRefresh());
  EXPECT_EQ(DuplicateRolePairs(prod.url()), 0);
  EXPECT_EQ(Count(prod.url(), "SELECT count(*) FROM (SELECT user_id, qualification FROM user_qualification_assignments "
                              "GROUP BY 1, 2 HAVING count(*) > 1) d"),
            0);
  const std::string super = TestBed::Get().SuperUrl(Cluster::kProd, "postgres");
  EXPECT_TRUE(WaitUntil([&] { return DbrefreshSessions(super, prod.name()) == 0; }, seconds(5)));
  EXPECT_EQ(AdvisoryLocks(super, prod.name()), 0);
}

// ---- server faults, on clusters of the test's own -------------------------------------------------

TEST(ReliabilityServerFault, TheTargetRestartingDuringRestoreUsersRollsBackAndARerunSucceeds) {
  OwnTestBed bed;
  const std::string source = bed.FreshDatabase(Cluster::kPreprod, "fault_src");
  const std::string target = bed.FreshDatabase(Cluster::kProd, "fault_dst");
  // 100,000 more role rows for the preprod-only people: a restore-users long enough to interrupt.
  const long long extra_roles =
      Query(bed.Url(Cluster::kPreprod, source),
            "WITH p AS (SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM users WHERE delius_username LIKE 'PREPROD\\_ONLY\\_%') "
            "INSERT INTO user_role_assignments SELECT gen_random_uuid(), p.id, 'PADDING_ROLE_' || g "
            "FROM generate_series(1, 100000) g JOIN p ON p.n = g % (SELECT count(*) FROM p)")
          .affected_rows();
  ASSERT_EQ(extra_roles, 100000);
  TempDir dir;
  const std::string snapshot = dir.File("preprod.db");
  auto snap = RunDbrefresh({"snapshot", "--target", bed.Url(Cluster::kPreprod, source), "--out", snapshot});
  ASSERT_EQ(snap.exit_code, 0) << snap.all();
  const std::string target_url = bed.Url(Cluster::kProd, target);
  const std::string before = UserTablesDigest(target_url);

  BackgroundProcess run({DBREFRESH_BINARY, "restore-users", snapshot, "--target", target_url});
  ASSERT_TRUE(run.WaitForErr([](const std::string& err) { return Contains(err, "table=user_role_assignments"); }, seconds(30)))
      << run.Err();
  auto restart = bed.PgCtl(Cluster::kProd, "restart");
  ASSERT_EQ(restart.exit_code, 0) << restart.all();
  const int code = run.Wait(seconds(60));
  const std::string err = run.Err();

  RecordProperty("exit_code", code);
  RecordProperty("last_line", LastLine(err));
  EXPECT_EQ(code, 3) << "a lost connection is exit 3:\n" << err;
  EXPECT_EQ(LastLine(err).rfind("error:", 0), 0u) << err;
  EXPECT_TRUE(Contains(LastLine(err), "restore-users into")) << "names what failed: " << err;
  EXPECT_TRUE(Contains(LastLine(err), "connection")) << err;
  EXPECT_EQ(UserTablesDigest(target_url), before) << "nothing half-inserted";

  auto rerun = RunDbrefresh({"restore-users", snapshot, "--target", target_url});
  ASSERT_EQ(rerun.exit_code, 0) << rerun.all();
  const auto after = AfterCorrectRefresh();
  EXPECT_EQ(CountUserTables(target_url), (UserTableCounts{after.users, after.roles + extra_roles, after.qualifications}));
  EXPECT_EQ(DuplicateRolePairs(target_url), 0);
}

TEST(ReliabilityServerFault, TheSourceStoppingDuringTheDumpFailsCleanlyAndLeavesTheTargetAlone) {
  OwnTestBed bed;
  const std::string source = bed.FreshDatabase(Cluster::kProd, "fault_prod");
  const std::string target = bed.FreshDatabase(Cluster::kPreprod, "fault_preprod");
  const std::string source_url = bed.Url(Cluster::kProd, source), target_url = bed.Url(Cluster::kPreprod, target);
  Query(source_url, "CREATE TABLE padding_events (id bigint PRIMARY KEY, body text NOT NULL);"
                    "INSERT INTO padding_events SELECT g, repeat(md5(g::text), 3) FROM generate_series(1, " +
                        std::to_string(kPaddingEvents) + ") g");
  const std::string before = UserTablesDigest(target_url);
  const auto objects = ObjectNames(target_url);
  TempDir dir;
  const std::map<std::string, std::string> connections = {{"DBREFRESH_SOURCE_URL", source_url},
                                                          {"DBREFRESH_TARGET_URL", target_url}};

  BackgroundProcess run({DBREFRESH_BINARY, "refresh", "--confirm-target", target, "--snapshot-dir", dir.path()}, connections);
  ASSERT_TRUE(WaitUntil([&] {
    for (const auto& p : PgClientsOf(source)) {
      if (p.program == "pg_dump" && p.parent == run.pid()) return true;
    }
    return run.Exited();
  }, seconds(60)));
  ASSERT_FALSE(run.Exited()) << run.Err();
  auto stop = bed.PgCtl(Cluster::kProd, "stop");
  ASSERT_EQ(stop.exit_code, 0) << stop.all();
  const int code = run.Wait(seconds(60));
  const std::string err = run.Err(), last = LastLine(err);

  RecordProperty("exit_code", code);
  RecordProperty("last_line", last);
  EXPECT_TRUE(code == 1 || code == 3) << "exit " << code << ":\n" << err;
  EXPECT_EQ(last.rfind("error:", 0), 0u) << err;
  EXPECT_TRUE(Contains(last, "pg_dump of the source")) << last;
  EXPECT_TRUE(Contains(last, "The target is unchanged")) << last;
  EXPECT_EQ(UserTablesDigest(target_url), before);
  EXPECT_EQ(ObjectNames(target_url), objects);
  EXPECT_TRUE(PgClientsOf(source).empty());

  // Once the source is back, the command the log names completes the job.
  ASSERT_EQ(bed.PgCtl(Cluster::kProd, "start").exit_code, 0);
  auto resumed = RunDbrefresh(ResumeArguments(last), connections);
  ASSERT_EQ(resumed.exit_code, 0) << resumed.all();
  EXPECT_EQ(CountUserTables(target_url), AfterCorrectRefresh());
}

// ---- hostile input ----------------------------------------------------------------------------

// A table that SQL smuggled into a snapshot would drop, and a sequence it would move.
const char* kCanary = "CREATE TABLE reliability_canary (id int); CREATE SEQUENCE reliability_canary_seq;";

void ExpectCanaryAlive(const std::string& url) {
  EXPECT_EQ(Scalar(url, "SELECT to_regclass('reliability_canary')::text"), "reliability_canary") << "SQL from the snapshot ran";
  EXPECT_EQ(Scalar(url, "SELECT last_value || '/' || is_called FROM reliability_canary_seq"), "1/false")
      << "SQL from the snapshot ran";
}

// Copies `from` to `to` and edits the copy with SQLite, as a person with sqlite3 would.
void EditSnapshot(const std::string& from, const std::string& to, const std::string& sqlite_sql) {
  WriteText(to, ReadBytes(from));
  SqliteDb db(to, SqliteDb::Mode::kCreate);
  db.Exec(sqlite_sql);
}

class ReliabilityHostileSnapshot : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    preprod_ = new ScopedDatabase(Cluster::kPreprod, "rel_hostile");
    auto r = RunDbrefresh({"snapshot", "--target", preprod_->url(), "--out", Original()});
    ASSERT_EQ(r.exit_code, 0) << r.all();
  }
  static void TearDownTestSuite() {
    delete preprod_;
    delete dir_;
    preprod_ = nullptr;
    dir_ = nullptr;
  }
  static std::string Original() { return dir_->File("original.db"); }
  static std::string File(const std::string& name) { return dir_->File(name); }

 private:
  static TempDir* dir_;
  static ScopedDatabase* preprod_;
};
TempDir* ReliabilityHostileSnapshot::dir_ = nullptr;
ScopedDatabase* ReliabilityHostileSnapshot::preprod_ = nullptr;

const std::vector<std::string> kSqlValues = {
    "x'); DROP TABLE reliability_canary; --",
    "x\"); DROP TABLE reliability_canary; --",
    "$$; DROP TABLE reliability_canary; $$",
    "\\.\nDROP TABLE reliability_canary;\n",
    "x'::text, (SELECT setval('reliability_canary_seq', 99))::text) --",
    "\\! rm -rf /tmp/never\n\\gexec",
    "'; COMMIT; DROP TABLE reliability_canary; BEGIN; --",
};

// PREPROD_ONLY_01 ...: people only preprod has.
std::string PreprodOnly(size_t n) { return std::string("PREPROD_ONLY_") + (n < 10 ? "0" : "") + std::to_string(n); }

TEST_F(ReliabilityHostileSnapshot, SqlInValuesIsInsertedAsDataNeverRun) {
  std::string edit;
  for (size_t i = 0; i < kSqlValues.size(); ++i) {
    std::string quoted;
    for (char c : kSqlValues[i]) quoted += c == '\'' ? std::string("''") : std::string(1, c);
    edit += "UPDATE rows_users SET name = '" + quoted + "', team_codes = '" + quoted +
            "' WHERE delius_username = '" + PreprodOnly(i + 1) + "';";
  }
  EditSnapshot(Original(), File("values.db"), edit);
  ScopedDatabase target(Cluster::kProd, "rel_hv");
  Query(target.url(), kCanary);

  auto restore = RunDbrefresh({"restore-users", File("values.db"), "--target", target.url()});
  ASSERT_EQ(restore.exit_code, 0) << restore.all();
  ExpectCanaryAlive(target.url());
  for (size_t i = 0; i < kSqlValues.size(); ++i) {
    auto r = Query(target.url(), "SELECT name, team_codes FROM users WHERE delius_username = '" + PreprodOnly(i + 1) + "'");
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0][0].as<std::string>(), kSqlValues[i]) << "stored as data";
    EXPECT_EQ(r[0][1].as<std::string>(), kSqlValues[i]);
  }
  // The same values through seed SQL run by psql (as the snapshot has them, and adapted to the target).
  for (bool adapted : {false, true}) {
    SCOPED_TRACE(adapted ? "seed-sql --target" : "seed-sql");
    ScopedDatabase seeded(Cluster::kProd, "rel_hv_seed");
    Query(seeded.url(), kCanary);
    std::vector<std::string> args = {"seed-sql", File("values.db"), "--out", File("values.sql")};
    if (adapted) args.insert(args.end(), {"--target", seeded.url()});
    ASSERT_EQ(RunDbrefresh(args).exit_code, 0);
    auto psql = PsqlFile(seeded, File("values.sql"));
    EXPECT_FALSE(Contains(psql.all(), "rm -rf")) << psql.all();
    ExpectCanaryAlive(seeded.url());
    if (adapted) {
      EXPECT_EQ(psql.exit_code, 0) << psql.all();
      EXPECT_EQ(Scalar(seeded.url(), "SELECT name FROM users WHERE delius_username = '" + PreprodOnly(1) + "'"), kSqlValues[0]);
    }
  }
}

TEST_F(ReliabilityHostileSnapshot, SqlInTableColumnAndSchemaNamesIsRefusedOrTakenAsANameNeverRun) {
  const std::string drop = "DROP TABLE reliability_canary; --";
  struct Case {
    std::string name;
    std::string edit;      // SQLite statements on a copy of the snapshot
    std::set<int> exits;   // what restore-users may answer
  };
  const std::string table_name = "user_qualification_assignments\"; " + drop;
  const std::vector<Case> cases = {
      {"a table name",
       "UPDATE dbrefresh_tables SET table_name = '" + table_name + "' WHERE table_name = 'user_qualification_assignments';"
       "UPDATE dbrefresh_columns SET table_name = '" + table_name + "' WHERE table_name = 'user_qualification_assignments';"
       "UPDATE dbrefresh_constraints SET table_name = '" + table_name + "' WHERE table_name = 'user_qualification_assignments';",
       {4}},
      {"a column name",
       "ALTER TABLE rows_users RENAME COLUMN team_codes TO \"team_codes\"\"); " + drop + "\";"
       "UPDATE dbrefresh_columns SET column_name = 'team_codes\"); " + drop + "' WHERE column_name = 'team_codes';",
       {0, 5}},
      {"the schema", "UPDATE dbrefresh_meta SET value = 'public\"; " + drop + "' WHERE key = 'schema';", {4}},
      {"the rows table", "UPDATE dbrefresh_tables SET rows_table = 'rows_users\"; DROP TABLE dbrefresh_meta; --' "
                         "WHERE table_name = 'users';",
       {6}},
      {"a constraint", "UPDATE dbrefresh_constraints SET definition = 'CHECK (true)); " + drop + "', "
                       "constraint_name = constraint_name || '\"; " + drop + "';",
       {0}},
      {"a default and a generated expression",
       "UPDATE dbrefresh_columns SET default_expr = '(SELECT 1); " + drop + "', generated_expr = 'now()); " + drop + "';",
       {0, 5, 6}},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    SCOPED_TRACE(c.name);
    const std::string file = File("names" + std::to_string(i) + ".db");
    EditSnapshot(Original(), file, c.edit);
    ScopedDatabase target(Cluster::kProd, "rel_hn");
    Query(target.url(), kCanary);
    const std::string before = UserTablesDigest(target.url());

    auto restore = RunDbrefresh({"restore-users", file, "--target", target.url()});
    EXPECT_TRUE(c.exits.count(restore.exit_code)) << "exit " << restore.exit_code << ": " << restore.all();
    ExpectCanaryAlive(target.url());
    if (restore.exit_code != 0 && restore.exit_code != 5) {
      EXPECT_EQ(UserTablesDigest(target.url()), before) << "refused, so nothing written";
      EXPECT_EQ(LastLine(restore.err).rfind("error:", 0), 0u) << restore.err;
    }
    // seed-sql, and psql running what it wrote: a refusal, or SQL that at most fails on a strange name.
    const std::string script = File("names" + std::to_string(i) + ".sql");
    auto seed = RunDbrefresh({"seed-sql", file, "--out", script});
    EXPECT_TRUE(seed.exit_code == 0 || seed.exit_code == 6) << seed.all();
    if (seed.exit_code == 0) {
      ScopedDatabase seeded(Cluster::kProd, "rel_hn_seed");
      Query(seeded.url(), kCanary);
      PsqlFile(seeded, script);
      ExpectCanaryAlive(seeded.url());
    }
    auto inspect = RunDbrefresh({"inspect", "--json", file});
    EXPECT_TRUE(inspect.exit_code == 0 || inspect.exit_code == 6) << inspect.all();
  }
}

// Regression test for a bug in src/snapshot and src/seed (fixed, issue 14): a type name passed the
// snapshot reader's old plausibility check (letters, digits, spaces and _.,()[]"$ only, no '--' or
// '/*') yet carried an expression, and seed SQL pasted the snapshot's type names after '::' — the
// column's own type without --target, the parent key's type in the parent lookups even with
// --target. The boolean it made was assigned to a text column, so the script ran cleanly, and ran
// the SQL. Now the reader accepts only format_type's grammar and, with a target, the target's
// catalog must resolve the name: every path refuses the file (exit 6) and the canary never changes.
TEST_F(ReliabilityHostileSnapshot, SqlInATypeNameIsRefusedAndNeverRuns) {
  const std::vector<std::string> shapes = {
      "text IS NOT NULL AND (SELECT setval($$reliability_canary_seq$$,4242)) IS NOT NULL",
      "text OR setval(<oid>,4242) IS NOT NULL",  // <oid>: the canary sequence's, in the database it runs on
  };
  for (const std::string& shape : shapes) {
    for (const std::string column : {"name", "delius_username"}) {
      SCOPED_TRACE(shape + " as the type of users." + column);
      // The file edited for one database: the shape with that database's own sequence oid.
      auto edited = [&](const ScopedDatabase& db, const std::string& name) {
        std::string type = shape;
        const auto at = type.find("<oid>");
        if (at != std::string::npos) {
          type.replace(at, 5, Scalar(db.url(), "SELECT 'reliability_canary_seq'::regclass::oid::text"));
        }
        std::string quoted;
        for (char c : type) quoted += c == '\'' ? std::string("''") : std::string(1, c);
        const std::string file = File(name + ".db");
        EditSnapshot(Original(), file,
                     "UPDATE dbrefresh_columns SET type = '" + quoted + "' WHERE table_name = 'users' AND column_name = '" +
                         column + "';");
        return file;
      };
      const std::string script = File("type.sql");
      std::remove(script.c_str());
      // restore-users.
      ScopedDatabase target(Cluster::kProd, "rel_ht");
      Query(target.url(), kCanary);
      const std::string before = UserTablesDigest(target.url());
      auto restore = RunDbrefresh({"restore-users", edited(target, "type-restore"), "--target", target.url()});
      EXPECT_EQ(restore.exit_code, 6) << restore.all();
      EXPECT_EQ(LastLine(restore.err).rfind("error:", 0), 0u) << restore.err;
      EXPECT_EQ(UserTablesDigest(target.url()), before);
      ExpectCanaryAlive(target.url());
      // seed-sql as the snapshot has it, for a database with preprod's columns.
      ScopedDatabase seeded(Cluster::kPreprod, "rel_ht_seed");
      Query(seeded.url(), kCanary);
      auto seed = RunDbrefresh({"seed-sql", edited(seeded, "type-seed"), "--out", script});
      EXPECT_EQ(seed.exit_code, 6) << seed.all();
      EXPECT_FALSE(Exists(script));
      if (Exists(script)) PsqlFile(seeded, script);
      ExpectCanaryAlive(seeded.url());
      // seed-sql adapted to a prod copy.
      auto adapted = RunDbrefresh({"seed-sql", edited(target, "type-adapted"), "--target", target.url(), "--out", script});
      EXPECT_EQ(adapted.exit_code, 6) << adapted.all();
      EXPECT_FALSE(Exists(script));
      if (Exists(script)) PsqlFile(target, script);
      ExpectCanaryAlive(target.url());
    }
  }
}

TEST(ReliabilityHostileConfig, UnknownKeysWrongTypesAndHugeNumbersAreExitTwoNamingTheKey) {
  struct Case {
    std::string json;
    std::string key;  // named in the error line
  };
  std::string deep = "1";
  for (int i = 0; i < 50000; ++i) deep = "[" + deep + "]";
  const std::vector<Case> cases = {
      {R"({"bogus": 1})", "'bogus'"},
      {R"({"Schema": "public"})", "'Schema'"},
      {R"({"preserve": [{"table": "users", "match": ["delius_username"]}]})", "'preserve[0].match'"},
      {R"({"preserve": [{"table": "users", "defaults": {"x": 1}}]})", "'preserve[0].defaults.x'"},
      {R"({"preserve": [{"table": ""}]})", "'preserve[0].table'"},
      {R"({"preserve": []})", "'preserve'"},
      {R"({"preserve": "users"})", "'preserve'"},
      {R"({"jobs": "2"})", "'jobs'"},
      {R"({"jobs": 2.5})", "'jobs'"},
      {R"({"jobs": true})", "'jobs'"},
      {R"({"jobs": 0})", "'jobs'"},
      {R"({"jobs": 99999999999999999999999999999})", "'jobs'"},
      {R"({"jobs": 18446744073709551615})", "'jobs'"},
      {R"({"jobs": 1e400})", "1e400"},  // too big for a double: the parser stops before the key is known
      {R"({"lock_timeout_seconds": 9223372036854775807})", "'lock_timeout_seconds'"},
      {R"({"lock_timeout_seconds": -9223372036854775808})", "'lock_timeout_seconds'"},
      {R"({"keep_snapshots": 4294967297})", "'keep_snapshots'"},
      {R"({"wait_for_migrations_seconds": -1})", "'wait_for_migrations_seconds'"},
      {R"({"terminate_connections": "yes"})", "'terminate_connections'"},
      {R"({"strategy": "SWAP"})", "'strategy'"},
      {R"({"on_conflict": null})", "'on_conflict'"},
      {R"({"post_restore_command": [1]})", "'post_restore_command'"},
      {R"({"pg_dump_args": "--verbose"})", "'pg_dump_args'"},
      {"{\"schema\": " + deep + "}", "'schema'"},
  };
  TempDir dir;
  ScopedDatabase preprod(Cluster::kPreprod, "rel_cfg");
  for (const auto& c : cases) {
    SCOPED_TRACE(c.json.substr(0, 100));
    WriteText(dir.File("config.json"), c.json);
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"snapshot", "--config", dir.File("config.json"), "--target", preprod.url(), "--out",
                                   dir.File("out.db")},
          std::vector<std::string>{"refresh", "--config", dir.File("config.json"), "--source", preprod.url(), "--target",
                                   preprod.url(), "--confirm-target", preprod.name(), "--snapshot-dir", dir.File("runs")}}) {
      auto r = RunDbrefresh(args);
      EXPECT_EQ(r.exit_code, 2) << args[0] << ": " << r.all();
      EXPECT_EQ(Lines(r.err).size(), 1u) << r.err.substr(0, 500);
      EXPECT_EQ(r.err.rfind("error:", 0), 0u) << r.err.substr(0, 500);
      EXPECT_TRUE(Contains(r.err, c.key)) << "names the key: " << r.err.substr(0, 500);
      EXPECT_FALSE(Contains(r.err, TestBed::Get().password()));
    }
    EXPECT_FALSE(Exists(dir.File("out.db")));
    EXPECT_FALSE(Exists(dir.File("runs")));
  }
  // Numbers given as flags are checked the same way.
  for (const auto& flags : std::vector<std::vector<std::string>>{{"--jobs", "99999999999999999999"},
                                                                 {"--jobs", "0"},
                                                                 {"--lock-timeout", "-1"},
                                                                 {"--keep-snapshots", "1e3"},
                                                                 {"--wait-for-migrations", "86401"}}) {
    std::vector<std::string> args = {"refresh", "--source", preprod.url(), "--target", preprod.url(),
                                     "--confirm-target", preprod.name(), "--snapshot-dir", dir.File("runs")};
    args.insert(args.end(), flags.begin(), flags.end());
    auto r = RunDbrefresh(args);
    EXPECT_EQ(r.exit_code, 2) << flags[0] << " " << flags[1] << ": " << r.all();
    EXPECT_TRUE(Contains(r.err, flags[0].substr(2))) << "names the option: " << r.err;
  }
}

// A role of the test's own whose password holds every character that needs care in a URI, a
// keyword string and a shell: p@ss:w/rd'"\ %
class ReliabilityOddPassword : public ::testing::Test {
 protected:
  static constexpr const char* kPassword = "p@ss:w/rd'\"\\ %";
  static constexpr const char* kUriPassword = "p%40ss%3Aw%2Frd%27%22%5C%20%25";
  static constexpr const char* kKeywordPassword = "'p@ss:w/rd\\'\"\\\\ %'";

  void SetUp() override {
    role_ = "rel_odd_" + std::to_string(::getpid());
    for (Cluster c : {Cluster::kProd, Cluster::kPreprod}) {
      Query(TestBed::Get().SuperUrl(c, "postgres"),
            "DROP ROLE IF EXISTS " + role_ + "; CREATE ROLE " + role_ + " LOGIN PASSWORD 'p@ss:w/rd''\"\\ %'; "
            "GRANT pg_read_all_data TO " + role_ + "; GRANT " + ScopedDatabase::Env("DBREFRESH_TEST_USER") + " TO " + role_);
    }
  }
  void TearDown() override {
    for (Cluster c : {Cluster::kProd, Cluster::kPreprod}) {
      try {
        Query(TestBed::Get().SuperUrl(c, "postgres"), "DROP ROLE IF EXISTS " + role_);
      } catch (...) {
      }
    }
  }
  std::string Uri(const ScopedDatabase& db) const {
    return "postgresql://" + role_ + ":" + kUriPassword + "@127.0.0.1:" + std::to_string(db.port()) + "/" + db.name();
  }
  std::string Keywords(const ScopedDatabase& db) const {
    return "host=127.0.0.1 port=" + std::to_string(db.port()) + " dbname=" + db.name() + " user=" + role_ +
           " password=" + kKeywordPassword;
  }
  // Neither the password nor a recognisable piece of it, in any spelling.
  static void ExpectNoPassword(const std::string& text, const std::string& where) {
    for (const std::string& piece : {std::string(kPassword), std::string(kUriPassword), std::string("ss:w/rd"),
                                    std::string("w%2Frd"), std::string("rd\\'")}) {
      EXPECT_FALSE(Contains(text, piece)) << "'" << piece << "' in " << where;
    }
  }
  std::string role_;
};

TEST_F(ReliabilityOddPassword, WorksAsUriAndKeywordsAndNeverPrints) {
  ScopedDatabase preprod(Cluster::kPreprod, "rel_pw");
  TempDir dir;
  struct Case {
    std::string name;
    std::vector<std::string> flags;
    std::map<std::string, std::string> env;
  };
  const std::vector<Case> cases = {
      {"URI in --target", {"--target", Uri(preprod)}, {}},
      {"keywords in --target", {"--target", Keywords(preprod)}, {}},
      {"URI in DBREFRESH_TARGET_URL", {}, {{"DBREFRESH_TARGET_URL", Uri(preprod)}}},
      {"keywords in DBREFRESH_TARGET_URL", {}, {{"DBREFRESH_TARGET_URL", Keywords(preprod)}}},
      {"job variables", {}, {{"DB_HOST_PREPROD", "127.0.0.1"}, {"DB_PORT_PREPROD", std::to_string(preprod.port())},
                             {"DB_NAME_PREPROD", preprod.name()}, {"DB_USER_PREPROD", role_}, {"DB_PASS_PREPROD", kPassword}}},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE(cases[i].name);
    const std::string out = dir.File("s" + std::to_string(i) + ".db");
    std::vector<std::string> args = {"snapshot", "-v", "--out", out};
    args.insert(args.end(), cases[i].flags.begin(), cases[i].flags.end());
    auto snap = RunDbrefresh(args, cases[i].env);
    EXPECT_EQ(snap.exit_code, 0) << snap.all();
    ExpectNoPassword(snap.all(), "snapshot output");
    if (snap.exit_code != 0) continue;
    ExpectNoPassword(ReadBytes(out), "the snapshot file");
    auto inspect = RunDbrefresh({"inspect", "--json", out});
    EXPECT_TRUE(Contains(inspect.out, role_)) << inspect.out;
    ExpectNoPassword(inspect.all(), "inspect output");
  }
  // A wrong password: exit 3, and still nothing of either password shown.
  auto wrong = RunDbrefresh({"snapshot", "--out", dir.File("wrong.db"), "--target",
                             "postgresql://" + role_ + ":" + kUriPassword + "x@127.0.0.1:" + std::to_string(preprod.port()) + "/" + preprod.name()});
  EXPECT_EQ(wrong.exit_code, 3) << wrong.all();
  ExpectNoPassword(wrong.all(), "the error");
}

TEST_F(ReliabilityOddPassword, RefreshPassesItToPgDumpAndPgRestoreThroughTheEnvironmentOnly) {
  ScopedDatabase prod(Cluster::kProd, "rel_pw_prod");
  ScopedDatabase preprod(Cluster::kPreprod, "rel_pw_preprod");
  TempDir dir, bin;
  // pg_dump and pg_restore that note their command line and whether a password came in PGPASSWORD.
  for (const char* program : {"pg_dump", "pg_restore"}) {
    WriteScript(bin.File(program), std::string("printf '%s\\n' \"$*\" >> '") + dir.File("argv") +
                                       "'\n[ -n \"$PGPASSWORD\" ] && echo " + program + " >> '" + dir.File("pgpassword") +
                                       "'\nexec '" + RealPgBin() + "/" + program + "' \"$@\"\n");
  }
  const std::string report = dir.File("report.json");
  auto r = RunDbrefresh({"refresh", "--confirm-target", preprod.name(), "--snapshot-dir", dir.File("runs"), "--pg-bin",
                         bin.path(), "--report", report, "-v"},
                        {{"DBREFRESH_SOURCE_URL", Uri(prod)}, {"DBREFRESH_TARGET_URL", Keywords(preprod)}});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  // What pg_restore created belongs to the role; look as the superuser.
  EXPECT_EQ(CountUserTables(TestBed::Get().SuperUrl(Cluster::kPreprod, preprod.name())), AfterCorrectRefresh());
  ExpectNoPassword(r.all(), "refresh output");
  ExpectNoPassword(ReadBytes(dir.File("argv")), "pg_dump / pg_restore command lines");
  EXPECT_TRUE(Contains(ReadBytes(dir.File("pgpassword")), "pg_dump"));
  EXPECT_TRUE(Contains(ReadBytes(dir.File("pgpassword")), "pg_restore"));
  ExpectNoPassword(ReadBytes(report), "the report");
  for (const auto& name : DirectoryEntries(dir.File("runs"))) ExpectNoPassword(ReadBytes(dir.File("runs/" + name)), name);
}

}  // namespace
}  // namespace dbrefresh::testing
