// Running child programs (pg_dump, pg_restore, the post-restore command): argument vector, no shell.
//
// The one place dbrefresh starts other programs. A password reaches the child only through
// PGPASSWORD in its environment, never on its command line; the command line is logged masked;
// stderr is captured and its last lines are reported when the program fails. Callers depend on
// the ProcessRunner interface so tests can substitute a fake (like ninja's FakeCommandRunner).
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace dbrefresh {

// How many lines of a failed program's stderr are kept and reported.
constexpr size_t kStderrTailLines = 20;

struct ProcessSpec {
  // argv[0] is the program: a path, or a bare name looked up in PATH. REQUIRES: not empty.
  std::vector<std::string> argv;
  // Added to (or replacing entries of) the inherited environment.
  std::map<std::string, std::string> env;
  // Given to the child as PGPASSWORD. Never logged, never on the command line.
  std::optional<std::string> password;
  // Called for each line (without its newline) as the child writes it. Optional.
  std::function<void(const std::string&)> on_stdout_line;
  std::function<void(const std::string&)> on_stderr_line;
  // Keep the whole stdout in ProcessResult::stdout_text (for short outputs such as --version).
  bool capture_stdout = false;
  // Log the command line at debug level instead of info (for probes such as --version).
  bool quiet = false;
  // Runs while dbrefresh does other work (see BackgroundProcess): a SIGTERM or SIGINT then stops it
  // and ends dbrefresh at once, as when no child runs, instead of waiting for the caller to notice.
  bool background = false;
};

struct ProcessResult {
  int exit_code = -1;                    // the exit status, or 128 + signal number
  std::string stdout_text;               // when capture_stdout
  std::vector<std::string> stderr_tail;  // the last kStderrTailLines lines of stderr
  bool ok() const { return exit_code == 0; }
  // The tail as one text block, each line indented, for error messages.
  std::string StderrTail() const;
};

class ProcessRunner {
 public:
  virtual ~ProcessRunner() = default;
  // Runs the program to completion and returns how it ended. A non-zero exit is a result, not
  // an exception. Throws Failure (exit 1) only when the program cannot be started at all.
  virtual ProcessResult Run(const ProcessSpec& spec) = 0;
};

// The real runner: SpawnChild (the child gets SIGTERM if dbrefresh dies, even by SIGKILL), stdin
// from /dev/null, stdout and stderr through pipes. While a child runs, SIGTERM and SIGINT sent to
// dbrefresh are forwarded to it; when it has ended, Run throws Failure saying dbrefresh was
// interrupted.
class PosixProcessRunner : public ProcessRunner {
 public:
  ProcessResult Run(const ProcessSpec& spec) override;
};

// Sends SIGTERM to the children started with ProcessSpec::background (to abandon them).
void StopBackgroundChildren();

// From now until dbrefresh ends, SIGTERM and SIGINT are handled, whatever runs: while a child
// program runs in the foreground they are forwarded to it and its Run throws Failure once it has
// ended; otherwise (no child, or only background ones, which are stopped) dbrefresh ends at once
// with exit status 128 + signal, after an `error:` line saying it was interrupted (or the line
// SayOnInterrupt prepared). main() calls this first: in a container dbrefresh is PID 1, and the
// kernel drops a signal sent to PID 1 that has no handler, so `docker stop` / a pod's deletion
// would wait for the grace period and then SIGKILL.
void HandleInterrupts();

// HandleInterrupts, and from now on the line written (plus a newline) to stderr when a signal ends
// dbrefresh while no child runs in the foreground, instead of the generic one. The line is prepared
// in advance, as the signal may come at any moment; call again whenever what to say changes (the
// refresh says, at the start of each step, which command resumes it). "" says nothing.
void SayOnInterrupt(const std::string& line);

// A directory a signal ending dbrefresh removes first (a scratch directory holding a dump of
// prod must not outlive the run), until KeepOnInterrupt.
void RemoveOnInterrupt(const std::string& dir);
void KeepOnInterrupt(const std::string& dir);

// The command line as it may be shown: arguments quoted where needed, and any argument that is
// a connection string holding a password shown masked.
std::string MaskedCommandLine(const std::vector<std::string>& argv);

// Unless the program succeeded: logs its stderr tail (one line each) and throws Failure naming
// `what`, the exit code and the last stderr line.
void RequireSuccess(const ProcessResult& result, const std::string& what);

}  // namespace dbrefresh
