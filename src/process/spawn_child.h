// Starting a child program that cannot outlive dbrefresh: fork, PR_SET_PDEATHSIG, exec.
//
// posix_spawn has no hook to run prctl in the child, so this forks, asks the kernel for SIGTERM when
// the parent goes (pg_dump and pg_restore cancel their server queries and stop their --jobs workers
// on SIGTERM, which SIGKILL would not let them do), checks that the parent has not already gone,
// and only then execs. The death signal is tied to the creating *thread*: the child is sent SIGTERM
// when that thread exits, so start a child from a thread that outlives it (one that waits for it,
// as ProcessRunner::Run does).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace dbrefresh {

// Starts argv[0] (a path, or a bare name looked up in dbrefresh's own PATH, as posix_spawnp does)
// with `argv`, exactly `env` ("KEY=value") as its environment, stdin from /dev/null and stdout and
// stderr on the given descriptors. The child runs with no signal handler of dbrefresh's and the
// calling thread's signal mask.
// On success: returns the child's pid; the caller must wait for it.
// On failure (no such program, not executable, fork failed): throws Failure (exit 1) naming the
// program and the reason; no child is left.
// REQUIRES: argv is not empty.
pid_t SpawnChild(const std::vector<std::string>& argv, const std::vector<std::string>& env, int stdout_fd,
                 int stderr_fd);

}  // namespace dbrefresh
