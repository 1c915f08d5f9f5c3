// The posix_spawn process runner: pipes read with poll() on the calling thread, no shell.
#include "process/process_runner.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <deque>

#include "common/error.h"
#include "common/log.h"
#include "connect/connection_spec.h"

extern char** environ;

namespace dbrefresh {
namespace {

// The running child, for the signal handler. One child at a time: the runner is not reentrant.
std::atomic<pid_t> g_child{0};
volatile sig_atomic_t g_interrupted_by = 0;
static_assert(std::atomic<pid_t>::is_always_lock_free, "the signal handler needs a lock-free pid");

// SayOnInterrupt's line, double-buffered: it is replaced only from the main thread, which the
// handler interrupts, so the published one is never being written while the handler reads it.
std::string g_interrupt_lines[2];
std::atomic<int> g_interrupt_line{-1};

// Async-signal-safe: forwards to the child, or (no child) says the prepared line and dies as the
// signal intends.
void ForwardSignal(int signal_number) {
  pid_t child = g_child.load();
  if (child > 0) {
    g_interrupted_by = signal_number;
    ::kill(child, signal_number);
    return;
  }
  const int line = g_interrupt_line.load();
  if (line >= 0 && !g_interrupt_lines[line].empty()) {
    ssize_t written = ::write(STDERR_FILENO, g_interrupt_lines[line].data(), g_interrupt_lines[line].size());
    (void)written;
  }
  ::signal(signal_number, SIG_DFL);
  ::raise(signal_number);
}

// Installs the forwarding handler for the lifetime of one Run and restores the old ones.
class SignalForwarding {
 public:
  SignalForwarding() {
    struct sigaction action {};
    action.sa_handler = ForwardSignal;
    sigemptyset(&action.sa_mask);
    ::sigaction(SIGTERM, &action, &old_term_);
    ::sigaction(SIGINT, &action, &old_int_);
    g_interrupted_by = 0;
  }
  ~SignalForwarding() {
    g_child.store(0);
    ::sigaction(SIGTERM, &old_term_, nullptr);
    ::sigaction(SIGINT, &old_int_, nullptr);
  }

 private:
  struct sigaction old_term_ {};
  struct sigaction old_int_ {};
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

// The child's environment: ours, with the spec's additions and PGPASSWORD.
std::vector<std::string> ChildEnvironment(const ProcessSpec& spec) {
  Environment env = ProcessEnvironment();
  for (const auto& [key, value] : spec.env) env[key] = value;
  if (spec.password) env["PGPASSWORD"] = *spec.password;
  std::vector<std::string> out;
  for (const auto& [key, value] : env) out.push_back(key + "=" + value);
  return out;
}

std::vector<char*> CStrings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
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

pid_t Spawn(const ProcessSpec& spec, Pipe& out, Pipe& err) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out.write_end, 1);
  posix_spawn_file_actions_adddup2(&actions, err.write_end, 2);
  std::vector<std::string> args = spec.argv;
  std::vector<std::string> env = ChildEnvironment(spec);
  auto argv = CStrings(args);
  auto envp = CStrings(env);
  pid_t pid = 0;
  int rc = ::posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw Failure("cannot run " + spec.argv[0] + ": " + std::strerror(rc));
  return pid;
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
  g_child.store(pid);
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

void SayOnInterrupt(const std::string& line) {
  const int next = g_interrupt_line.load() == 0 ? 1 : 0;
  g_interrupt_lines[next] = line.empty() ? "" : line + "\n";
  g_interrupt_line.store(next);
  struct sigaction action {};
  action.sa_handler = ForwardSignal;
  sigemptyset(&action.sa_mask);
  ::sigaction(SIGTERM, &action, nullptr);
  ::sigaction(SIGINT, &action, nullptr);
}

std::string MaskedCommandLine(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& arg : argv) {
    if (!out.empty()) out += ' ';
    out += MaskedArgument(arg);
  }
  return out;
}

void RequireSuccess(const ProcessResult& result, const std::string& what) {
  if (result.ok()) return;
  std::string last = "it printed nothing on stderr";
  for (const auto& line : result.stderr_tail) {
    log::Error(what + " stderr: " + line);
    if (!line.empty()) last = line;
  }
  throw Failure(what + " failed with exit code " + std::to_string(result.exit_code) + ": " + last);
}

}  // namespace dbrefresh
