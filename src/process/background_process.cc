// BackgroundProcess: ProcessRunner::Run on a std::async thread.
#include "process/background_process.h"

#include <chrono>
#include <utility>

namespace dbrefresh {

BackgroundProcess::BackgroundProcess(ProcessRunner& runner, ProcessSpec spec) {
  spec.background = true;
  result_ = std::async(std::launch::async, [&runner, spec = std::move(spec)] { return runner.Run(spec); });
}

BackgroundProcess::~BackgroundProcess() {
  if (!result_.valid()) return;
  // Again until it ends: the thread may not have started the child yet when first asked.
  // What the runner threw is of no interest once the process is abandoned.
  do {
    StopBackgroundChildren();
  } while (result_.wait_for(std::chrono::milliseconds(100)) != std::future_status::ready);
}

ProcessResult BackgroundProcess::Wait() { return result_.get(); }

}  // namespace dbrefresh
