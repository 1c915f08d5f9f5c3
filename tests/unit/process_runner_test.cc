// The process runner: argument vectors, no shell, PGPASSWORD only in the environment, stderr tail,
// line callbacks, masking, signal forwarding, children in the background; and the pg_dump/pg_restore
// helpers on a fake runner.
#include "process/process_runner.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "common/error.h"
#include "fake_process_runner.h"
#include "process/background_process.h"
#include "process/pg_tools.h"
#include "process/spawn_child.h"
#include "refresh/dump.h"
#include "refresh/restore_dump.h"

namespace dbrefresh {
namespace {

using testing::FakeProcessRunner;

ProcessSpec Shell(const std::string& script) {
  ProcessSpec spec;
  spec.argv = {"sh", "-c", script};
  return spec;
}

bool Contains(const std::string& haystack, const std::string& needle) { return haystack.find(needle) != std::string::npos; }

// A child that makes `path` only if it lives 30 s, that is if no signal ended it. The shell waits
// for its sleep, which holds none of the pipes, so the runner sees the child end with the shell.
std::string SleepThenTouch(const std::string& path) {
  return "sleep 30 </dev/null >/dev/null 2>&1 & wait $!; touch '" + path + "'";
}

// A path of this test process's own in the temporary directory (not created).
std::string TempPath(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("dbrefresh-runner-test-" + std::to_string(::getpid()) + "-" + name)).string();
}

// In a death test's child, after the signal is raised: waits for it (pause) rather than for a while.
// The alarm only keeps a handler that returns instead of ending the process from hanging the suite:
// SIGALRM then ends the child, and the test fails on the wrong signal.
[[noreturn]] void WaitForTheSignalToEndUs() {
  ::alarm(60);
  for (;;) ::pause();
}

TEST(PosixProcessRunner, CapturesStdoutAndExitCode) {
  PosixProcessRunner runner;
  ProcessSpec spec = Shell("printf 'a\\nb\\n'; exit 3");
  spec.capture_stdout = true;
  ProcessResult result = runner.Run(spec);
  EXPECT_EQ(result.exit_code, 3);
  EXPECT_EQ(result.stdout_text, "a\nb\n");
  EXPECT_FALSE(result.ok());
}

TEST(PosixProcessRunner, StreamsStdoutAndStderrLinesToCallbacks) {
  PosixProcessRunner runner;
  ProcessSpec spec = Shell("echo out1; echo err1 >&2; printf out2");
  std::vector<std::string> out, err;
  spec.on_stdout_line = [&](const std::string& line) { out.push_back(line); };
  spec.on_stderr_line = [&](const std::string& line) { err.push_back(line); };
  EXPECT_TRUE(runner.Run(spec).ok());
  EXPECT_EQ(out, (std::vector<std::string>{"out1", "out2"}));
  EXPECT_EQ(err, (std::vector<std::string>{"err1"}));
}

TEST(PosixProcessRunner, KeepsTheLastTwentyStderrLines) {
  PosixProcessRunner runner;
  ProcessResult result = runner.Run(Shell("for i in $(seq 1 30); do echo line$i >&2; done; exit 1"));
  ASSERT_EQ(result.stderr_tail.size(), kStderrTailLines);
  EXPECT_EQ(result.stderr_tail.front(), "line11");
  EXPECT_EQ(result.stderr_tail.back(), "line30");
}

TEST(PosixProcessRunner, GivesThePasswordThroughPgpasswordOnly) {
  PosixProcessRunner runner;
  ProcessSpec spec;
  spec.argv = {"sh", "-c", "echo \"$PGPASSWORD|$EXTRA\"; cat /proc/$$/cmdline | tr '\\0' ' '"};
  spec.password = "s3cret pw";
  spec.env["EXTRA"] = "x";
  spec.capture_stdout = true;
  ProcessResult result = runner.Run(spec);
  EXPECT_TRUE(Contains(result.stdout_text, "s3cret pw|x\n")) << result.stdout_text;
  EXPECT_EQ(result.stdout_text.find("s3cret", result.stdout_text.find('\n')), std::string::npos)
      << "the password must not be on the command line";
}

TEST(PosixProcessRunner, ProgramThatCannotStartIsAFailure) {
  PosixProcessRunner runner;
  ProcessSpec spec;
  spec.argv = {"/nonexistent/dbrefresh-no-such-program"};
  try {
    runner.Run(spec);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kFailure);
    EXPECT_TRUE(Contains(e.what(), "dbrefresh-no-such-program")) << e.what();
  }
}

TEST(PosixProcessRunner, ForwardsSigtermToTheChildAndReportsTheInterruption) {
  PosixProcessRunner runner;
  const std::string outlived = TempPath("outlived");
  ProcessSpec spec = Shell("echo ready; " + SleepThenTouch(outlived));
  // Sent once the child runs (the callback runs inside Run, with the forwarding handler installed).
  spec.on_stdout_line = [](const std::string&) { ::kill(::getpid(), SIGTERM); };
  EXPECT_THROW(runner.Run(spec), Error);
  EXPECT_FALSE(std::filesystem::exists(outlived)) << "the child was not stopped";
  std::filesystem::remove(outlived);
}

// What RequireSuccess says of a failed program, and with which exit code; "no error" when it passes it.
std::pair<std::string, ExitCode> FailureOf(const ProcessResult& result, const std::string& what) {
  try {
    RequireSuccess(result, what);
  } catch (const Error& e) {
    return {e.what(), e.code()};
  }
  return {"no error", ExitCode::kOk};
}

TEST(RequireSuccess, NamesTheProgramExitCodeAndItsErrorLine) {
  ProcessResult result;
  result.exit_code = 1;
  result.stderr_tail = {"pg_dump: dumping", "pg_dump: error: connection failed", ""};
  EXPECT_EQ(FailureOf(result, "pg_dump of the source"),
            std::make_pair(std::string("pg_dump of the source failed with exit code 1: pg_dump: error: connection failed"),
                           ExitCode::kFailure));
  result.exit_code = 0;
  EXPECT_NO_THROW(RequireSuccess(result, "x"));
}

// pg_restore --jobs: the worker's error is the one to read, not the leader's last words.
TEST(RequireSuccess, TellsTheFirstErrorOfAParallelRestoreNotItsWorkerDiedLine) {
  ProcessResult result;
  result.exit_code = 1;
  result.stderr_tail = {"pg_restore: creating INDEX \"public.idx\"",
                        "pg_restore: error: could not execute query: ERROR:  could not create unique index \"idx\"",
                        "DETAIL:  Key (id)=(1) is duplicated.",
                        "Command was: CREATE UNIQUE INDEX idx ON public.t USING btree (id);",
                        "pg_restore: error: a worker process died unexpectedly"};
  EXPECT_EQ(FailureOf(result, "pg_restore into the target").first,
            "pg_restore into the target failed with exit code 1: pg_restore: error: could not execute query: ERROR:  "
            "could not create unique index \"idx\"");
}

// Any other program (the post-restore command) says what went wrong last, whatever it printed before.
TEST(RequireSuccess, TellsTheLastLineOfAProgramOtherThanPgDumpOrPgRestore) {
  ProcessResult result;
  result.exit_code = 2;
  result.stderr_tail = {"flyway: error: a warning it recovered from", "flyway: migration V9 failed: column exists", ""};
  EXPECT_EQ(FailureOf(result, "the post-restore command").first,
            "the post-restore command failed with exit code 2: flyway: migration V9 failed: column exists");
}

struct MaskCase {
  std::vector<std::string> argv;
  std::string expected;
};

class MaskedCommandLineTest : public ::testing::TestWithParam<MaskCase> {};

TEST_P(MaskedCommandLineTest, NeverShowsAPassword) {
  EXPECT_EQ(MaskedCommandLine(GetParam().argv), GetParam().expected);
}

INSTANTIATE_TEST_SUITE_P(
    Arguments, MaskedCommandLineTest,
    ::testing::Values(
        MaskCase{{"pg_dump", "--jobs=2", "/tmp/x"}, "pg_dump --jobs=2 /tmp/x"},
        MaskCase{{"echo", "two words", "it's"}, "echo 'two words' 'it'\\''s'"},
        MaskCase{{"psql", "postgresql://u:pw@h:5432/db"}, "psql 'host=h port=5432 dbname=db user=u password=****'"},
        MaskCase{{"pg_dump", "--dbname=host=h user=u password=pw"}, "pg_dump --dbname='host=h user=u password=****'"},
        MaskCase{{"psql", "host=h password='a b'"}, "psql 'host=h password=****'"}));

TEST(ParseToolMajor, ReadsTheMajorVersion) {
  EXPECT_EQ(ParseToolMajor("pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n"), 15);
  EXPECT_EQ(ParseToolMajor("pg_restore (PostgreSQL) 17.2\n"), 17);
  EXPECT_EQ(ParseToolMajor("pg_dump (PostgreSQL) 9.6.24\n"), 9);
  EXPECT_EQ(ParseToolMajor("something else"), std::nullopt);
}

TEST(ToolTooOld, RefusesOnlyAnOlderMajor) {
  EXPECT_EQ(ToolTooOld("pg_dump", 15, "source", 15), std::nullopt);
  EXPECT_EQ(ToolTooOld("pg_dump", 16, "source", 14), std::nullopt);
  auto problem = ToolTooOld("pg_dump", 14, "target", 15);
  ASSERT_TRUE(problem);
  EXPECT_TRUE(Contains(*problem, "pg_dump 14 is older than the target server (PostgreSQL 15)")) << *problem;
}

TEST(RequireToolNotOlder, IsABlockingRefusal) {
  FakeProcessRunner runner;
  runner.Script({0, "pg_dump (PostgreSQL) 14.9\n", ""});
  try {
    RequireToolNotOlder(runner, PgTools{"/opt/pg14/bin"}, "pg_dump", "source", 150004);
    FAIL() << "expected a refusal";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kBlocked);
  }
  ASSERT_EQ(runner.runs().size(), 1u);
  EXPECT_EQ(runner.runs()[0].argv, (std::vector<std::string>{"/opt/pg14/bin/pg_dump", "--version"}));
}

TEST(FindPgTools, ABadPgBinIsAUsageError) {
  try {
    FindPgTools(std::string("/nonexistent/pg/bin"));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kUsage);
  }
}

TEST(PgCommand, PutsThePasswordInTheEnvironmentNotOnTheCommandLine) {
  ProcessSpec spec = PgCommand(PgTools{"/bin/pg"}, "pg_dump", {"postgresql://alice:pw%20x@db:5433/app", "--source"},
                               {"--schema-only"});
  EXPECT_EQ(spec.argv.front(), "/bin/pg/pg_dump");
  EXPECT_EQ(spec.password, std::optional<std::string>("pw x"));
  for (const auto& arg : spec.argv) EXPECT_FALSE(Contains(arg, "pw")) << arg;
  EXPECT_TRUE(Contains(spec.argv.back(), "--dbname=")) << spec.argv.back();
  EXPECT_TRUE(Contains(spec.argv.back(), "dbname=app")) << spec.argv.back();
}

TEST(SourceDump, RunsADirectoryFormatReadOnlyDumpWithoutOwnersOrPrivileges) {
  FakeProcessRunner runner;
  Config config;
  config.jobs = 3;
  config.pg_dump_args = {"--exclude-table=audit_log"};
  SourceDump dump(runner, PgTools{""}, {"host=h dbname=prod user=u password=pw", "--source"}, config, "/tmp/d");
  dump.Wait();
  ASSERT_EQ(runner.runs().size(), 1u);
  const ProcessSpec& spec = runner.runs()[0];
  const std::string line = MaskedCommandLine(spec.argv);
  for (const char* arg : {"--format=directory", "--jobs=3", "--no-owner", "--no-privileges", "--file=/tmp/d",
                          "--exclude-table=audit_log"}) {
    EXPECT_TRUE(Contains(line, arg)) << line;
  }
  EXPECT_TRUE(Contains(spec.env.at("PGOPTIONS"), "default_transaction_read_only=on"));
  EXPECT_EQ(spec.password, std::optional<std::string>("pw"));
}

TEST(SourceDump, AFailingPgDumpIsAFailureWithItsStderr) {
  FakeProcessRunner runner;
  runner.Script({1, "", "pg_dump: error: connection to server failed\n"});
  SourceDump dump(runner, PgTools{""}, {"host=h dbname=prod", "--source"}, Config{}, "/tmp/d");
  try {
    dump.Wait();
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kFailure);
    EXPECT_TRUE(Contains(e.what(), "connection to server failed")) << e.what();
  }
}

TEST(RestoreDump, CountsTocEntriesAndUsesCleanOnlyForStrategyClean) {
  for (bool clean : {false, true}) {
    FakeProcessRunner runner;
    runner.Script({0, ";\n; Archive\n;\n7; 2615 2200 SCHEMA - public x\n221; 1259 1 TABLE public t x\n", ""});
    runner.Script({0, "", "pg_restore: creating TABLE \"public.t\"\npg_restore: processing data for table \"public.t\"\n"});
    RestoreDump(runner, PgTools{""}, {"host=h dbname=pre", "--target"}, Config{}, "/tmp/d", clean);
    ASSERT_EQ(runner.runs().size(), 2u);
    const std::string line = MaskedCommandLine(runner.runs()[1].argv);
    EXPECT_TRUE(Contains(line, "--exit-on-error")) << line;
    EXPECT_TRUE(Contains(line, "--no-owner --no-privileges")) << line;
    EXPECT_EQ(Contains(line, "--clean --if-exists"), clean) << line;
    EXPECT_EQ(runner.runs()[1].argv.back(), "/tmp/d");
  }
}

TEST(IsRestoreItemLine, CountsTheLinesOfFinishedEntries) {
  EXPECT_TRUE(IsRestoreItemLine("pg_restore: creating TABLE \"public.users\""));
  EXPECT_TRUE(IsRestoreItemLine("pg_restore: processing data for table \"public.users\""));
  EXPECT_TRUE(IsRestoreItemLine("pg_restore: executing SEQUENCE SET notes_id_seq"));
  EXPECT_FALSE(IsRestoreItemLine("pg_restore: launching item 3514 TABLE DATA applications"));
  EXPECT_FALSE(IsRestoreItemLine("pg_restore: connecting to database for restore"));
}

TEST(BackgroundProcess, RunsWhileTheCallerWorksAndWaitGivesItsResult) {
  PosixProcessRunner runner;
  std::vector<std::string> lines;
  const std::string go = TempPath("go");
  // The child ends well (4) only once the caller, back from starting it, has made the file: a start
  // that waited for the child would leave it to give up (9) after a minute.
  ProcessSpec spec = Shell("for i in $(seq 1200); do if [ -e '" + go + "' ]; then echo done; exit 4; fi; sleep 0.05; done; exit 9");
  spec.on_stdout_line = [&](const std::string& line) { lines.push_back(line); };
  BackgroundProcess background(runner, spec);
  std::ofstream(go) << "go";
  ProcessResult result = background.Wait();
  std::filesystem::remove(go);
  EXPECT_EQ(result.exit_code, 4) << "the caller was kept waiting until the child gave up";
  EXPECT_EQ(lines, std::vector<std::string>{"done"});
}

TEST(BackgroundProcess, AbandonedItIsStopped) {
  PosixProcessRunner runner;
  const std::string outlived = TempPath("outlived-background"), pid_file = TempPath("pid");
  pid_t child = 0;
  {
    BackgroundProcess background(runner, Shell("echo $$ > '" + pid_file + ".new' && mv '" + pid_file + ".new' '" +
                                               pid_file + "'; " + SleepThenTouch(outlived)));
    // Abandoned once it runs (its pid written): the destructor must stop it, not leave it behind.
    for (int i = 0; i < 3000 && !std::filesystem::exists(pid_file); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    std::ifstream(pid_file) >> child;
  }
  std::filesystem::remove(pid_file);
  ASSERT_GT(child, 0) << "the child never wrote its pid";
  // Stopped and waited for: gone (a detached one would still run), never to live out its sleep.
  EXPECT_EQ(::kill(child, 0), -1);
  EXPECT_EQ(errno, ESRCH) << "the child is still there";
  EXPECT_FALSE(std::filesystem::exists(outlived)) << "the child was not stopped";
  std::filesystem::remove(outlived);
}

// While only a background child runs, dbrefresh's own thread is busy with work of its own (a
// transaction the server rolls back): a SIGTERM stops the child and ends dbrefresh at once, saying
// the prepared line and removing the scratch directory, as when no child runs.
TEST(BackgroundProcessDeathTest, ASigtermStopsTheChildAndEndsTheProgramWithThePreparedLine) {
  ::testing::FLAGS_gtest_death_test_style = "threadsafe";
  // A fixed name: the death test's child runs this body again, in a process of its own.
  const std::string scratch = std::filesystem::temp_directory_path() / "dbrefresh-test-interrupt-scratch";
  std::filesystem::create_directories(scratch);
  std::ofstream(scratch + "/dump.dat") << "a dump of prod";
  EXPECT_EXIT(
      {
        PosixProcessRunner runner;
        RemoveOnInterrupt(scratch);
        SayOnInterrupt("error: interrupted; resume with the prepared command");
        BackgroundProcess background(runner, Shell("exec sleep 30"));
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        ::kill(::getpid(), SIGTERM);
        WaitForTheSignalToEndUs();
      },
      ::testing::KilledBySignal(SIGTERM), "interrupted; resume with the prepared command");
  EXPECT_FALSE(std::filesystem::exists(scratch)) << "the scratch directory outlived the run";
  std::filesystem::remove_all(scratch);
}

// ---- children die with dbrefresh; signals are handled for the whole run -------------------------

// The death signal is tied to the thread that started the child: when it ends without waiting for
// the child (as when dbrefresh dies, even by SIGKILL), the child gets SIGTERM.
TEST(SpawnChild, TheChildGetsSigtermWhenTheThreadThatStartedItEnds) {
  const int null_fd = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  ASSERT_GE(null_fd, 0);
  pid_t child = 0;
  std::thread([&] { child = SpawnChild({"sleep", "30"}, {"PATH=/usr/bin:/bin"}, null_fd, null_fd); }).join();
  ::close(null_fd);
  ASSERT_GT(child, 0);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM) << "status " << status << ": the child outlived its thread";
}

TEST(SpawnChild, FindsABareNameInPathAndGivesExactlyTheEnvironment) {
  int out[2];
  ASSERT_EQ(::pipe2(out, O_CLOEXEC), 0);
  const int null_fd = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  const pid_t child = SpawnChild({"sh", "-c", "echo \"$ONLY_THIS:$HOME\""}, {"ONLY_THIS=yes"}, out[1], null_fd);
  ::close(null_fd);
  ::close(out[1]);
  std::string text;
  char buffer[256];
  for (ssize_t n; (n = ::read(out[0], buffer, sizeof buffer)) > 0;) text.append(buffer, static_cast<size_t>(n));
  ::close(out[0]);
  int status = 0;
  ::waitpid(child, &status, 0);
  EXPECT_EQ(text, "yes:\n");
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

// In a container dbrefresh is PID 1, which the kernel shields from signals it does not handle: the
// handler must be there for the whole run, not only while a child runs. A SIGTERM when no child
// runs ends dbrefresh with an error line; so does one after a child has come and gone.
TEST(HandleInterruptsDeathTest, ASigtermWithNoChildRunningEndsTheProgramWithAnErrorLine) {
  ::testing::FLAGS_gtest_death_test_style = "threadsafe";
  EXPECT_EXIT(
      {
        HandleInterrupts();
        ::kill(::getpid(), SIGTERM);
        WaitForTheSignalToEndUs();
      },
      ::testing::KilledBySignal(SIGTERM), "error: interrupted by SIGTERM");
}

TEST(HandleInterruptsDeathTest, TheHandlerStaysAfterAChildHasRun) {
  ::testing::FLAGS_gtest_death_test_style = "threadsafe";
  EXPECT_EXIT(
      {
        HandleInterrupts();
        PosixProcessRunner runner;
        if (!runner.Run(Shell("exit 0")).ok()) std::exit(3);
        ::kill(::getpid(), SIGINT);
        WaitForTheSignalToEndUs();
      },
      ::testing::KilledBySignal(SIGINT), "error: interrupted by SIGINT");
}

}  // namespace
}  // namespace dbrefresh
