// SpawnChild: fork, then in the child only async-signal-safe calls (dbrefresh has threads) until exec.
#include "process/spawn_child.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "common/error.h"

namespace dbrefresh {
namespace {

// The paths to try, in order, as posix_spawnp and execvp look a program up: a name with a '/' as
// it is, else each directory of dbrefresh's PATH (an empty entry is the current directory).
std::vector<std::string> CandidatePaths(const std::string& program) {
  if (program.find('/') != std::string::npos) return {program};
  const char* path = std::getenv("PATH");
  const std::string dirs = path && *path ? path : "/bin:/usr/bin";
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    const size_t end = dirs.find(':', start);
    const std::string dir = dirs.substr(start, end == std::string::npos ? std::string::npos : end - start);
    out.push_back((dir.empty() ? std::string(".") : dir) + "/" + program);
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return out;
}

std::vector<char*> CStrings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// Everything the child needs, prepared before fork: the child may not allocate.
struct ExecPlan {
  std::vector<std::string> paths, args, env;
  std::vector<char*> argv, envp;
  sigset_t mask;  // the calling thread's signal mask, for the child
  pid_t parent;
  int stdout_fd, stderr_fd, error_fd;
};

void WriteErrno(int fd, int error) {
  ssize_t written = ::write(fd, &error, sizeof error);
  (void)written;
}

// The child's side. Reports why it could not exec through `error_fd` (close-on-exec: a successful
// exec closes it, and the parent reads nothing).
[[noreturn]] void BecomeChild(const ExecPlan& plan) {
  // No handler of dbrefresh's may run here (it would signal dbrefresh's other children).
  for (int sig = 1; sig < NSIG; ++sig) {
    struct sigaction old {};
    if (::sigaction(sig, nullptr, &old) == 0 && old.sa_handler != SIG_IGN && old.sa_handler != SIG_DFL) {
      struct sigaction dfl {};
      dfl.sa_handler = SIG_DFL;
      ::sigaction(sig, &dfl, nullptr);
    }
  }
  // SIGTERM when dbrefresh (the creating thread) goes; if it went before this line, the child was
  // reparented already and would never get the signal, so it ends here.
  if (::prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || ::getppid() != plan.parent) _exit(127);
  const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);  // its copy on 0 stays open
  if (null_fd < 0 || ::dup2(null_fd, 0) < 0 || ::dup2(plan.stdout_fd, 1) < 0 || ::dup2(plan.stderr_fd, 2) < 0) {
    WriteErrno(plan.error_fd, errno);
    _exit(127);
  }
  ::sigprocmask(SIG_SETMASK, &plan.mask, nullptr);
  int error = ENOENT;
  for (const auto& path : plan.paths) {
    ::execve(path.c_str(), plan.argv.data(), plan.envp.data());
    if (errno != ENOENT && errno != ENOTDIR) error = errno;  // EACCES and the like say more than "not found"
    if (errno != ENOENT && errno != ENOTDIR && errno != EACCES) break;
  }
  WriteErrno(plan.error_fd, error);
  _exit(127);
}

// The exec's outcome as the child reported it: 0 when it ran the program.
int ReadExecError(int fd) {
  int error = 0;
  for (;;) {
    const ssize_t n = ::read(fd, &error, sizeof error);
    if (n < 0 && errno == EINTR) continue;
    return n == static_cast<ssize_t>(sizeof error) ? error : 0;
  }
}

}  // namespace

pid_t SpawnChild(const std::vector<std::string>& argv, const std::vector<std::string>& env, int stdout_fd,
                 int stderr_fd) {
  if (argv.empty()) throw Failure("internal: no program to run");
  ExecPlan plan;
  plan.paths = CandidatePaths(argv[0]);
  plan.args = argv;
  plan.env = env;
  plan.argv = CStrings(plan.args);
  plan.envp = CStrings(plan.env);
  plan.parent = ::getpid();
  plan.stdout_fd = stdout_fd;
  plan.stderr_fd = stderr_fd;
  int error_pipe[2];
  if (::pipe2(error_pipe, O_CLOEXEC) != 0) throw Failure(std::string("cannot create a pipe: ") + std::strerror(errno));
  plan.error_fd = error_pipe[1];

  // All signals blocked across fork: the child must not run a handler before it has reset them.
  sigset_t all;
  sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &plan.mask);
  const pid_t pid = ::fork();
  if (pid == 0) BecomeChild(plan);
  const int fork_error = errno;
  ::pthread_sigmask(SIG_SETMASK, &plan.mask, nullptr);
  ::close(error_pipe[1]);
  if (pid < 0) {
    ::close(error_pipe[0]);
    throw Failure("cannot run " + argv[0] + ": fork failed: " + std::strerror(fork_error));
  }
  const int exec_error = ReadExecError(error_pipe[0]);
  ::close(error_pipe[0]);
  if (exec_error != 0) {
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    throw Failure("cannot run " + argv[0] + ": " + std::strerror(exec_error));
  }
  return pid;
}

}  // namespace dbrefresh
