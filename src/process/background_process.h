// A child program running on a thread of its own while the caller goes on with other work: the
// rest of the restore while restore-users runs.
#pragma once

#include <future>

#include "process/process_runner.h"

namespace dbrefresh {

class BackgroundProcess {
 public:
  // Starts `spec` (with ProcessSpec::background set) through `runner` on a new thread. The spec's
  // callbacks are called on that thread.
  BackgroundProcess(ProcessRunner& runner, ProcessSpec spec);
  // Abandoning a process that was not waited for stops it (SIGTERM), then waits for the thread.
  ~BackgroundProcess();
  BackgroundProcess(const BackgroundProcess&) = delete;
  BackgroundProcess& operator=(const BackgroundProcess&) = delete;

  // Waits for the program to end and returns how it ended; rethrows what the runner threw. Once only.
  ProcessResult Wait();

 private:
  std::future<ProcessResult> result_;
};

}  // namespace dbrefresh
