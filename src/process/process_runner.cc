// The process runner: children started by SpawnChild, pipes read with poll() on the calling thread, no shell.
#include "process/process_runner.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "common/error.h"
#include "common/log.h"
#include "connect/connection_spec.h"
#include "process/spawn_child.h"

namespace dbrefresh {
namespace {

// The running children, for the signal handler: one run in the foreground, and at most one more
// in the background (BackgroundProcess) while dbrefresh does other work.
struct ChildSlot {
  std::atomic<pid_t> pid{0};
  std::atomic<bool> background{false};
};
ChildSlot g_children[2];
volatile sig_atomic_t g_interrupted_by = 0;
static_assert(std::atomic<pid_t>::is_always_lock_free, "the signal handler needs a lock-free pid");
static_assert(std::atomic<bool>::is_always_lock_free, "the signal handler needs a lock-free flag");

// What a signal that ends dbrefresh leaves behind: the line SayOnInterrupt prepared, and no
// directory registered with RemoveOnInterrupt.
std::mutex g_interrupt_mutex;
std::optional<std::string> g_interrupt_line;  // none: the generic line, through the log
std::set<std::string> g_interrupt_dirs;
// Set by HandleInterrupts: the forwarding handler stays once a Run ends.
std::atomic<bool> g_always_handled{false};

const char* SignalName(int signal_number) {
  switch (signal_number) {
    case SIGTERM: return "SIGTERM";
    case SIGINT: return "SIGINT";
  }
  return "a signal";
}

// The handler may only do async-signal-safe things, so ending dbrefresh is left to a thread of
// its own, woken through a pipe: it can remove directories, say the line, then die as the signal
// intends (exit status 128 + signal).
int g_wake_pipe[2] = {-1, -1};

[[noreturn]] void EndAfterInterrupt(int signal_number) {
  {
    std::lock_guard<std::mutex> lock(g_interrupt_mutex);
    for (const auto& dir : g_interrupt_dirs) {
      std::error_code ignored;
      std::filesystem::remove_all(dir, ignored);
    }
    if (!g_interrupt_line) {
      log::Error(std::string("interrupted by ") + SignalName(signal_number) + " (signal " + std::to_string(signal_number) +
                 "); the command did not finish, and the servers roll back what it had not committed");
    } else if (!g_interrupt_line->empty()) {
      ssize_t written = ::write(STDERR_FILENO, g_interrupt_line->data(), g_interrupt_line->size());
      (void)written;
    }
  }
  ::signal(signal_number, SIG_DFL);
  ::raise(signal_number);
  // Reached as PID 1 of a container: the kernel drops the signal there even with its default action.
  std::_Exit(128 + signal_number);
}

void StartInterruptWatcher() {
  static std::once_flag started;
  std::call_once(started, [] {
    if (::pipe2(g_wake_pipe, O_CLOEXEC) != 0) throw Failure(std::string("cannot create a pipe: ") + std::strerror(errno));
    std::thread([] {
      int signal_number = 0;
      for (;;) {
        const ssize_t n = ::read(g_wake_pipe[0], &signal_number, sizeof signal_number);
        if (n == static_cast<ssize_t>(sizeof signal_number)) EndAfterInterrupt(signal_number);
        if (n < 0 && errno == EINTR) continue;
        return;
      }
    }).detach();
  });
}

// Async-signal-safe: forwards to the children. While one runs in the foreground, its Run notices
// and throws; otherwise (no child, or only a background one, whose caller is busy with work of its
// own that the servers roll back) the watcher thread ends dbrefresh.
void ForwardSignal(int signal_number) {
  bool foreground = false;
  for (auto& slot : g_children) {
    const pid_t child = slot.pid.load();
    if (child <= 0) continue;
    ::kill(child, signal_number);
    foreground = foreground || !slot.background.load();
  }
  g_interrupted_by = signal_number;
  if (foreground) return;
  ssize_t written = ::write(g_wake_pipe[1], &signal_number, sizeof signal_number);
  (void)written;
}

void InstallForwarding(struct sigaction* old_term, struct sigaction* old_int) {
  StartInterruptWatcher();
  struct sigaction action {};
  action.sa_handler = ForwardSignal;
  sigemptyset(&action.sa_mask);
  ::sigaction(SIGTERM, &action, old_term);
  ::sigaction(SIGINT, &action, old_int);
}

// Installs the forwarding handler while any Run is under way and then restores the old ones;
// counted, since a background Run and a foreground one may overlap.
class SignalForwarding {
 public:
  SignalForwarding() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (users_++ > 0) return;
    InstallForwarding(&old_term_, &old_int_);
    g_interrupted_by = 0;
  }
  ~SignalForwarding() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (--users_ > 0 || g_always_handled.load()) return;
    ::sigaction(SIGTERM, &old_term_, nullptr);
    ::sigaction(SIGINT, &old_int_, nullptr);
  }

 private:
  static std::mutex mutex_;
  static int users_;
  static struct sigaction old_term_;
  static struct sigaction old_int_;
};
std::mutex SignalForwarding::mutex_;
int SignalForwarding::users_ = 0;
struct sigaction SignalForwarding::old_term_ {};
struct sigaction SignalForwarding::old_int_ {};

// Holds a child's slot for as long as it runs.
class ChildRegistration {
 public:
  ChildRegistration(pid_t pid, bool background) {
    for (auto& slot : g_children) {
      pid_t free = 0;
      if (slot.pid.compare_exchange_strong(free, -1)) {  // claimed, not yet visible to the handler
        slot.background.store(background);
        slot.pid.store(pid);
        slot_ = &slot;
        return;
      }
    }
    ::kill(pid, SIGTERM);  // more children than dbrefresh ever runs at once: a bug, do not leave it running
    throw Failure("internal: more than two child programs at once");
  }
  ~ChildRegistration() { slot_->pid.store(0); }

 private:
  ChildSlot* slot_ = nullptr;
};

bool LooksLikeConnection(const std::string& arg) {
  bool uri = arg.find("://") != std::string::npos && arg.find('@') != std::string::npos;
  return uri || arg.find("password") != std::string::npos;
}

std::string ShellQuoted(const std::string& arg) {
  bool plain = !arg.empty();
  for (char c : arg) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || std::strchr("-_./=:,@+%", c))) plain = false;
  }
  if (plain) return arg;
  std::string out = "'";
  for (char c : arg) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string MaskedArgument(const std::string& arg) {
  if (!LooksLikeConnection(arg)) return ShellQuoted(arg);
  auto eq = arg.find('=');
  if (arg.rfind("--", 0) == 0 && eq != std::string::npos) {
    return arg.substr(0, eq + 1) + ShellQuoted(MaskedConnection(arg.substr(eq + 1)));
  }
  return ShellQuoted(MaskedConnection(arg));
}

// The variables that carry a connection's secrets into dbrefresh. No child inherits them: pg_dump
// gets the source's password and pg_restore the target's, each as ProcessSpec::password, and the
// post-restore command gets neither (README, "What the post-restore command receives").
const char* const kSecretVariables[] = {"PGPASSWORD", "DB_PASS", "DB_PASS_PREPROD", "DBREFRESH_SOURCE_URL",
                                        "DBREFRESH_TARGET_URL"};

// The child's environment: ours without the secret variables, with the spec's additions and PGPASSWORD.
std::vector<std::string> ChildEnvironment(const ProcessSpec& spec) {
  Environment env = ProcessEnvironment();
  for (const char* secret : kSecretVariables) env.erase(secret);
  for (const auto& [key, value] : spec.env) env[key] = value;
  if (spec.password) env["PGPASSWORD"] = *spec.password;
  std::vector<std::string> out;
  for (const auto& [key, value] : env) out.push_back(key + "=" + value);
  return out;
}

// Splits a stream into lines and hands each to a callback (and the stderr tail).
class LineSplitter {
 public:
  LineSplitter(std::function<void(const std::string&)> callback, std::deque<std::string>* tail, std::string* capture)
      : callback_(std::move(callback)), tail_(tail), capture_(capture) {}

  void Feed(const char* data, size_t size) {
    if (capture_) capture_->append(data, size);
    for (size_t i = 0; i < size; ++i) {
      if (data[i] == '\n') {
        Emit();
      } else {
        pending_ += data[i];
      }
    }
  }
  void Finish() {
    if (!pending_.empty()) Emit();
  }

 private:
  void Emit() {
    if (!pending_.empty() && pending_.back() == '\r') pending_.pop_back();
    if (callback_) callback_(pending_);
    if (tail_) {
      tail_->push_back(pending_);
      if (tail_->size() > kStderrTailLines) tail_->pop_front();
    }
    pending_.clear();
  }
  std::function<void(const std::string&)> callback_;
  std::deque<std::string>* tail_;
  std::string* capture_;
  std::string pending_;
};

struct Pipe {
  int read_end = -1;
  int write_end = -1;
  Pipe() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw Failure(std::string("cannot create a pipe: ") + std::strerror(errno));
    read_end = fds[0];
    write_end = fds[1];
  }
  ~Pipe() {
    if (read_end >= 0) ::close(read_end);
    if (write_end >= 0) ::close(write_end);
  }
  void CloseWrite() {
    ::close(write_end);
    write_end = -1;
  }
};

// Started through SpawnChild, so the child cannot outlive dbrefresh (nor the thread running Run).
pid_t Spawn(const ProcessSpec& spec, Pipe& out, Pipe& err) {
  return SpawnChild(spec.argv, ChildEnvironment(spec), out.write_end, err.write_end);
}

// Reads both pipes until both are closed.
void Drain(Pipe& out, Pipe& err, LineSplitter& out_lines, LineSplitter& err_lines) {
  struct pollfd fds[2] = {{out.read_end, POLLIN, 0}, {err.read_end, POLLIN, 0}};
  LineSplitter* splitters[2] = {&out_lines, &err_lines};
  int open = 2;
  char buffer[65536];
  while (open > 0) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      throw Failure(std::string("poll failed: ") + std::strerror(errno));
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = ::read(fds[i].fd, buffer, sizeof buffer);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        fds[i].fd = -1;
        --open;
        continue;
      }
      splitters[i]->Feed(buffer, static_cast<size_t>(n));
    }
  }
  out_lines.Finish();
  err_lines.Finish();
}

int WaitForExit(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) throw Failure(std::string("waitpid failed: ") + std::strerror(errno));
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

std::string ProcessResult::StderrTail() const {
  std::string out;
  for (const auto& line : stderr_tail) out += "\n    " + line;
  return out;
}

ProcessResult PosixProcessRunner::Run(const ProcessSpec& spec) {
  if (spec.argv.empty()) throw Failure("internal: no program to run");
  log::Write(spec.quiet ? log::Level::kDebug : log::Level::kInfo, "running", {{"command", MaskedCommandLine(spec.argv)}});
  ProcessResult result;
  std::deque<std::string> tail;
  Pipe out, err;
  SignalForwarding forwarding;
  pid_t pid = Spawn(spec, out, err);
  ChildRegistration registration(pid, spec.background);
  out.CloseWrite();
  err.CloseWrite();
  LineSplitter out_lines(spec.on_stdout_line, nullptr, spec.capture_stdout ? &result.stdout_text : nullptr);
  LineSplitter err_lines(spec.on_stderr_line, &tail, nullptr);
  Drain(out, err, out_lines, err_lines);
  result.exit_code = WaitForExit(pid);
  result.stderr_tail.assign(tail.begin(), tail.end());
  if (g_interrupted_by) {
    throw Failure("interrupted by signal " + std::to_string(g_interrupted_by) + " while " + spec.argv[0] +
                  " ran; it was stopped");
  }
  return result;
}

void StopBackgroundChildren() {
  for (auto& slot : g_children) {
    const pid_t child = slot.pid.load();
    if (child > 0 && slot.background.load()) ::kill(child, SIGTERM);
  }
}

void HandleInterrupts() {
  g_always_handled.store(true);
  InstallForwarding(nullptr, nullptr);
}

void SayOnInterrupt(const std::string& line) {
  {
    std::lock_guard<std::mutex> lock(g_interrupt_mutex);
    g_interrupt_line = line.empty() ? "" : line + "\n";
  }
  HandleInterrupts();
}

void RemoveOnInterrupt(const std::string& dir) {
  std::lock_guard<std::mutex> lock(g_interrupt_mutex);
  g_interrupt_dirs.insert(dir);
}

void KeepOnInterrupt(const std::string& dir) {
  std::lock_guard<std::mutex> lock(g_interrupt_mutex);
  g_interrupt_dirs.erase(dir);
}

std::string MaskedCommandLine(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& arg : argv) {
    if (!out.empty()) out += ' ';
    out += MaskedArgument(arg);
  }
  return out;
}

namespace {

// The stderr line that says what went wrong: the first error of pg_dump or pg_restore, else the
// last line (other programs, such as the post-restore command, say it last). A parallel pg_restore
// whose worker failed ends with "a worker process died unexpectedly": the worker's own error, with
// the server's message, comes before it.
std::string TellingLine(const std::vector<std::string>& tail) {
  std::string last = "it printed nothing on stderr";
  for (const auto& line : tail) {
    const bool pg_tool_error = line.rfind("pg_dump: error: ", 0) == 0 || line.rfind("pg_restore: error: ", 0) == 0;
    if (pg_tool_error && line.find("a worker process died unexpectedly") == std::string::npos) return line;
    if (!line.empty()) last = line;
  }
  return last;
}

}  // namespace

void RequireSuccess(const ProcessResult& result, const std::string& what) {
  if (result.ok()) return;
  for (const auto& line : result.stderr_tail) log::Error(what + " stderr: " + line);
  throw Failure(what + " failed with exit code " + std::to_string(result.exit_code) + ": " + TellingLine(result.stderr_tail));
}

}  // namespace dbrefresh
