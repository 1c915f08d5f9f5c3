// A ProcessRunner for unit tests: records every spec it is given and answers with scripted results,
// feeding their stdout/stderr lines to the spec's callbacks like the real runner (cf. ninja's
// FakeCommandRunner).
#pragma once

#include <deque>
#include <sstream>
#include <string>
#include <vector>

#include "process/process_runner.h"

namespace dbrefresh::testing {

struct FakeOutput {
  int exit_code = 0;
  std::string stdout_text;
  std::string stderr_text;
};

class FakeProcessRunner : public ProcessRunner {
 public:
  // Results handed out in order; when they run out, programs succeed silently.
  void Script(FakeOutput output) { outputs_.push_back(std::move(output)); }
  const std::vector<ProcessSpec>& runs() const { return runs_; }

  ProcessResult Run(const ProcessSpec& spec) override {
    runs_.push_back(spec);
    FakeOutput output;
    if (!outputs_.empty()) {
      output = outputs_.front();
      outputs_.pop_front();
    }
    ProcessResult result;
    result.exit_code = output.exit_code;
    if (spec.capture_stdout) result.stdout_text = output.stdout_text;
    ForEachLine(output.stdout_text, [&](const std::string& line) {
      if (spec.on_stdout_line) spec.on_stdout_line(line);
    });
    ForEachLine(output.stderr_text, [&](const std::string& line) {
      if (spec.on_stderr_line) spec.on_stderr_line(line);
      result.stderr_tail.push_back(line);
      if (result.stderr_tail.size() > kStderrTailLines) result.stderr_tail.erase(result.stderr_tail.begin());
    });
    return result;
  }

 private:
  template <typename F>
  static void ForEachLine(const std::string& text, F visit) {
    std::stringstream in(text);
    for (std::string line; std::getline(in, line);) visit(line);
  }
  std::deque<FakeOutput> outputs_;
  std::vector<ProcessSpec> runs_;
};

}  // namespace dbrefresh::testing
